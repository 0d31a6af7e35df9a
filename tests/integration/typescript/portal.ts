// What a portal written in strict TypeScript does with the types openapi-typescript generates
// from openapi.yaml. It must compile with `tsc --strict`; each @ts-expect-error marks a mistake
// the generated types must catch (tsc fails when such a line compiles).
import type { components, paths } from "./api";

type Ticket = components["schemas"]["Ticket"];
type Change = components["schemas"]["Change"];
type Problem = components["schemas"]["Problem"];
type TicketCreate = components["schemas"]["TicketCreate"];
type TicketPage =
  paths["/v1/tickets"]["get"]["responses"][200]["content"]["application/json"];

export function row(t: Ticket): string {
  const when: string = t.created_at;
  const change: Change | null = t.change;
  const kind: string = change === null ? "upscale" : change.kind;
  const sizes = (t.resources ?? []).map((r) => `${r.component}=${r.size}`).join(", ");
  const period = t.period === null ? "" : ` ${t.period.start}..${t.period.end}`;
  return `${t.id.slice(0, 8)} ${statusLabel(t.status)} ${kind} ${sizes}${period} ${when}`;
}

export function statusLabel(status: Ticket["status"]): string {
  switch (status) {
    case "pending_approval": return "waiting for approval";
    case "approved": return "approved";
    case "provisioning": return "being applied";
    case "completed": return "done";
    case "failed": return "failed";
    case "rejected": return "rejected";
    case "cancelled": return "cancelled";
    case "reverting": return "being reverted";
    case "reverted": return "reverted";
    default: return status;
  }
}

export function pages(page: TicketPage): { rows: string[]; next: string | null } {
  return { rows: page.items.map(row), next: page.next_cursor };
}

export function refusal(p: Problem): string {
  switch (p.rule) {
    case "over_contract_limit":
    case "size_not_larger":
      return (p.params?.resources ?? [])
        .map((r) => `${r.component}: ${r.current_size} -> ${r.requested_size} (cap ${r.cap ?? "none"})`)
        .join("; ");
    case "period_in_past":
      return `start at ${p.params?.earliest_start ?? "now"} or later`;
    case "duplicate_open_request":
      return `ticket ${p.open_ticket_id ?? p.params?.open_ticket_id} is still open`;
    case "invalid_transition":
      return `cannot ${p.action} a ticket that is ${p.current_status}`;
    case "precondition_failed":
      return `reload: the ticket is now ${p.etag}`;
    default:
      return p.detail ?? p.title;
  }
}

export const upscale: TicketCreate = {
  type: "upscale",
  environment_id: "env-1",
  summary: "load test",
  resources: [{ component: "yves", size: "large" }],
  period: { start: "2030-01-01T00:00:00Z", end: "2030-01-02T00:00:00Z" },
};

export const change: TicketCreate = {
  type: "change",
  environment_id: "env-2",
  summary: "new PHP version",
  change: { kind: "service_version", parameters: { php: "8.3" } },
  verified_on: "ticket-1",
};

export const mixed: TicketCreate = {
  type: "change",
  environment_id: "env-2",
  summary: "a change cannot carry resources",
  change: { kind: "config", parameters: { A: "1" } },
  // @ts-expect-error resources belong to upscale requests only
  resources: [{ component: "yves", size: "large" }],
};

// @ts-expect-error an upscale needs resources
export const noResources: TicketCreate = { type: "upscale", environment_id: "e", summary: "s" };

// @ts-expect-error "huge" is not a size
export const badSize: TicketCreate = { type: "upscale", environment_id: "e", summary: "s", resources: [{ component: "yves", size: "huge" }] };

// @ts-expect-error every ticket has a status; a client may rely on it
export const partial: Ticket = { id: "t" };
