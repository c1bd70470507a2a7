"""The read-path floor: the whole profile as one hand-written SQL statement.

On PostgreSQL one json_build_object/json_agg statement over the rm_* tables builds the
profile's JSON, run through psycopg in one round trip per profile; on SQLite the same with
json_object/json_group_array through the sqlite3 module.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from bench.report import percentile

PROFILE_SQL = """
SELECT json_build_object(
  'id', c.id, 'version', c.version, 'name', c.name, 'type', c.client_type,
  'tags', c.tags, 'address', c.address, 'customFields', c.custom_fields,
  'onHold', c.on_hold, 'detailsComplete', c.details_complete,
  'createdAt', c.created_at, 'updatedAt', c.updated_at,
  'holds', (SELECT coalesce(json_agg(json_build_object(
      'placedAt', h.placed_at, 'reason', h.reason, 'releasedAt', h.released_at,
      'placedBy', h.placed_by, 'releasedBy', h.released_by) ORDER BY h.seq), '[]')
    FROM rm_client_holds h WHERE h.client_id = c.id),
  'contacts', json_build_object(
    'totalCount', (SELECT count(*) FROM rm_client_contacts WHERE client_id = c.id),
    'edges', (SELECT coalesce(json_agg(json_build_object(
        'cursor', cc.position, 'description', cc.description, 'linkedAt', cc.linked_at,
        'contact', json_build_object('id', k.id, 'firstName', k.first_name,
          'lastName', k.last_name, 'phone', k.phone, 'emails', k.emails))
        ORDER BY cc.position), '[]')
      FROM (SELECT * FROM rm_client_contacts WHERE client_id = c.id AND firm_id = c.firm_id
            ORDER BY position LIMIT 100) cc
      JOIN rm_contacts k ON k.id = cc.contact_id)),
  'team', (SELECT coalesce(json_agg(json_build_object(
      'assignedAt', t.assigned_at, 'assignedBy', t.assigned_by,
      'member', json_build_object('id', s.id, 'userId', s.user_id, 'name', s.name,
        'email', s.email, 'role', s.role)) ORDER BY t.position), '[]')
    FROM rm_team t JOIN rm_staff s ON s.firm_id = t.firm_id AND s.user_id = t.user_id
    WHERE t.client_id = c.id),
  'teamHistory', (SELECT coalesce(json_agg(json_build_object(
      'change', th.change, 'at', th.at, 'by', th.by,
      'member', json_build_object('id', s.id, 'name', s.name)) ORDER BY th.position), '[]')
    FROM rm_team_history th JOIN rm_staff s ON s.firm_id = c.firm_id AND s.user_id = th.user_id
    WHERE th.client_id = c.id),
  'relatedClients', (SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name)
      ORDER BY r.name_key, r.id), '[]')
    FROM rm_clients r WHERE r.firm_id = c.firm_id AND r.id <> c.id AND r.id IN (
      SELECT o.client_id FROM rm_client_contacts m
      JOIN rm_client_contacts o ON o.contact_id = m.contact_id WHERE m.client_id = c.id)),
  'overview', json_build_object(
    'latestComments', (SELECT coalesce(json_agg(json_build_object('id', x.id, 'body', x.body,
        'createdAt', x.created_at, 'author', x.author) ORDER BY x.position DESC), '[]')
      FROM (SELECT * FROM rm_comments WHERE client_id = c.id
            ORDER BY position DESC LIMIT 5) x),
    'latestActivity', (SELECT coalesce(json_agg(json_build_object('id', a.position,
        'position', a.position, 'occurredAt', a.occurred_at, 'type', a.type,
        'summary', a.summary, 'actor', a.actor) ORDER BY a.position DESC), '[]')
      FROM (SELECT * FROM rm_activity WHERE client_id = c.id AND firm_id = c.firm_id
            ORDER BY position DESC LIMIT 5) a),
    'unpaidInvoices', (SELECT coalesce(json_agg(json_build_object('id', i.id,
        'number', i.number, 'dueOn', i.due_on, 'overdue', i.due_on < current_date,
        'balance', json_build_object('amount', i.balance, 'currency', i.currency))
        ORDER BY i.due_on), '[]')
      FROM rm_invoices i WHERE i.client_id = c.id AND i.status IN ('OPEN', 'PARTIALLY_PAID'))),
  'billing', (SELECT json_build_object(
      'unpaidTotal', json_build_object('amount',
        coalesce(sum(i.balance::numeric) FILTER (WHERE i.status IN ('OPEN', 'PARTIALLY_PAID')), 0),
        'currency', 'USD'),
      'overdueTotal', json_build_object('amount',
        coalesce(sum(i.balance::numeric) FILTER (WHERE i.status IN ('OPEN', 'PARTIALLY_PAID')
          AND i.due_on < current_date), 0), 'currency', 'USD'),
      'unpaidCount', count(*) FILTER (WHERE i.status IN ('OPEN', 'PARTIALLY_PAID')),
      'overdueCount', count(*) FILTER (WHERE i.status IN ('OPEN', 'PARTIALLY_PAID')
        AND i.due_on < current_date),
      'averageDaysToPay', avg(i.paid_on - i.issued_on) FILTER (WHERE i.paid_on IS NOT NULL),
      'creditBalance', (SELECT json_build_object('amount', coalesce(sum(cr.balance::numeric), 0),
        'currency', 'USD') FROM rm_client_credit cr WHERE cr.client_id = c.id))
    FROM rm_invoices i WHERE i.client_id = c.id),
  'invoices', json_build_object(
    'totalCount', (SELECT count(*) FROM rm_invoices WHERE client_id = c.id),
    'edges', (SELECT coalesce(json_agg(json_build_object('id', i.id, 'number', i.number,
        'status', i.status, 'issuedOn', i.issued_on, 'dueOn', i.due_on,
        'currency', i.currency, 'overdue', i.due_on < current_date, 'paidOn', i.paid_on,
        'total', json_build_object('amount', i.total, 'currency', i.currency),
        'paid', json_build_object('amount', i.paid, 'currency', i.currency),
        'balance', json_build_object('amount', i.balance, 'currency', i.currency),
        'lines', i.lines) ORDER BY i.issued_on DESC, i.id), '[]')
      FROM (SELECT * FROM rm_invoices WHERE client_id = c.id
            ORDER BY issued_on DESC, id LIMIT 50) i)),
  'comments', json_build_object(
    'totalCount', (SELECT count(*) FROM rm_comments WHERE client_id = c.id),
    'edges', (SELECT coalesce(json_agg(json_build_object('id', x.id, 'body', x.body,
        'createdAt', x.created_at, 'author', x.author) ORDER BY x.position DESC), '[]')
      FROM (SELECT * FROM rm_comments WHERE client_id = c.id
            ORDER BY position DESC LIMIT 20) x)),
  'activity', (SELECT json_build_object('hasNextPage', count(*) > 50,
      'edges', coalesce(json_agg(json_build_object('cursor', a.position, 'id', a.position,
        'position', a.position, 'occurredAt', a.occurred_at, 'type', a.type,
        'summary', a.summary, 'data', a.data, 'actor', a.actor)
        ORDER BY a.position DESC) FILTER (WHERE a.rn <= 50), '[]'))
    FROM (SELECT *, row_number() OVER (ORDER BY position DESC) AS rn FROM rm_activity
          WHERE client_id = c.id AND firm_id = c.firm_id
          ORDER BY position DESC LIMIT 51) a)
)::text
FROM rm_clients c WHERE c.id = %s AND c.firm_id = %s
"""


SQLITE_PROFILE_SQL = """
SELECT json_object(
  'id', c.id, 'version', c.version, 'name', c.name, 'type', c.client_type,
  'tags', json(c.tags), 'address', json(c.address), 'customFields', json(c.custom_fields),
  'onHold', json(CASE WHEN c.on_hold THEN 'true' ELSE 'false' END),
  'detailsComplete', json(CASE WHEN c.details_complete THEN 'true' ELSE 'false' END),
  'createdAt', c.created_at, 'updatedAt', c.updated_at,
  'holds', (SELECT json_group_array(json_object('placedAt', h.placed_at, 'reason', h.reason,
      'releasedAt', h.released_at, 'placedBy', json(h.placed_by),
      'releasedBy', json(h.released_by)))
    FROM (SELECT * FROM rm_client_holds WHERE client_id = c.id ORDER BY seq) h),
  'contacts', json_object(
    'totalCount', (SELECT count(*) FROM rm_client_contacts WHERE client_id = c.id),
    'edges', (SELECT json_group_array(json_object('cursor', cc.position,
        'description', cc.description, 'linkedAt', cc.linked_at,
        'contact', json_object('id', k.id, 'firstName', k.first_name,
          'lastName', k.last_name, 'phone', k.phone, 'emails', json(k.emails))))
      FROM (SELECT * FROM rm_client_contacts WHERE client_id = c.id AND firm_id = c.firm_id
            ORDER BY position LIMIT 100) cc
      JOIN rm_contacts k ON k.id = cc.contact_id)),
  'team', (SELECT json_group_array(json_object('assignedAt', t.assigned_at,
      'assignedBy', json(t.assigned_by), 'member', json_object('id', s.id,
        'userId', s.user_id, 'name', s.name, 'email', s.email, 'role', s.role)))
    FROM (SELECT * FROM rm_team WHERE client_id = c.id ORDER BY position) t
    JOIN rm_staff s ON s.firm_id = t.firm_id AND s.user_id = t.user_id),
  'teamHistory', (SELECT json_group_array(json_object('change', th.change, 'at', th.at,
      'by', json(th.by), 'member', json_object('id', s.id, 'name', s.name)))
    FROM (SELECT * FROM rm_team_history WHERE client_id = c.id ORDER BY position) th
    JOIN rm_staff s ON s.firm_id = c.firm_id AND s.user_id = th.user_id),
  'relatedClients', (SELECT json_group_array(json_object('id', r.id, 'name', r.name))
    FROM (SELECT * FROM rm_clients WHERE firm_id = c.firm_id AND id <> c.id AND id IN (
      SELECT o.client_id FROM rm_client_contacts m
      JOIN rm_client_contacts o ON o.contact_id = m.contact_id WHERE m.client_id = c.id)
      ORDER BY name_key, id) r),
  'overview', json_object(
    'latestComments', (SELECT json_group_array(json_object('id', x.id, 'body', x.body,
        'createdAt', x.created_at, 'author', json(x.author)))
      FROM (SELECT * FROM rm_comments WHERE client_id = c.id
            ORDER BY position DESC LIMIT 5) x),
    'latestActivity', (SELECT json_group_array(json_object('id', a.position,
        'position', a.position, 'occurredAt', a.occurred_at, 'type', a.type,
        'summary', a.summary, 'actor', json(a.actor)))
      FROM (SELECT * FROM rm_activity WHERE client_id = c.id AND firm_id = c.firm_id
            ORDER BY position DESC LIMIT 5) a),
    'unpaidInvoices', (SELECT json_group_array(json_object('id', i.id, 'number', i.number,
        'dueOn', i.due_on, 'overdue', i.due_on < date('now'),
        'balance', json_object('amount', i.balance, 'currency', i.currency)))
      FROM (SELECT * FROM rm_invoices WHERE client_id = c.id
            AND status IN ('OPEN', 'PARTIALLY_PAID') ORDER BY due_on) i)),
  'billing', (SELECT json_object(
      'unpaidTotal', json_object('amount', coalesce(sum(CASE WHEN i.status IN
        ('OPEN', 'PARTIALLY_PAID') THEN CAST(i.balance AS REAL) END), 0), 'currency', 'USD'),
      'overdueTotal', json_object('amount', coalesce(sum(CASE WHEN i.status IN
        ('OPEN', 'PARTIALLY_PAID') AND i.due_on < date('now')
        THEN CAST(i.balance AS REAL) END), 0), 'currency', 'USD'),
      'unpaidCount', count(CASE WHEN i.status IN ('OPEN', 'PARTIALLY_PAID') THEN 1 END),
      'overdueCount', count(CASE WHEN i.status IN ('OPEN', 'PARTIALLY_PAID')
        AND i.due_on < date('now') THEN 1 END),
      'averageDaysToPay', avg(julianday(i.paid_on) - julianday(i.issued_on)),
      'creditBalance', (SELECT json_object('amount', coalesce(sum(CAST(cr.balance AS REAL)), 0),
        'currency', 'USD') FROM rm_client_credit cr WHERE cr.client_id = c.id))
    FROM rm_invoices i WHERE i.client_id = c.id),
  'invoices', json_object(
    'totalCount', (SELECT count(*) FROM rm_invoices WHERE client_id = c.id),
    'edges', (SELECT json_group_array(json_object('id', i.id, 'number', i.number,
        'status', i.status, 'issuedOn', i.issued_on, 'dueOn', i.due_on,
        'currency', i.currency, 'overdue', i.due_on < date('now'), 'paidOn', i.paid_on,
        'total', json_object('amount', i.total, 'currency', i.currency),
        'paid', json_object('amount', i.paid, 'currency', i.currency),
        'balance', json_object('amount', i.balance, 'currency', i.currency),
        'lines', json(i.lines)))
      FROM (SELECT * FROM rm_invoices WHERE client_id = c.id
            ORDER BY issued_on DESC, id LIMIT 50) i)),
  'comments', json_object(
    'totalCount', (SELECT count(*) FROM rm_comments WHERE client_id = c.id),
    'edges', (SELECT json_group_array(json_object('id', x.id, 'body', x.body,
        'createdAt', x.created_at, 'author', json(x.author)))
      FROM (SELECT * FROM rm_comments WHERE client_id = c.id
            ORDER BY position DESC LIMIT 20) x)),
  'activity', json_object(
    'hasNextPage', (SELECT count(*) > 50 FROM (SELECT 1 FROM rm_activity
      WHERE client_id = c.id AND firm_id = c.firm_id LIMIT 51)),
    'edges', (SELECT json_group_array(json_object('cursor', a.position, 'id', a.position,
        'position', a.position, 'occurredAt', a.occurred_at, 'type', a.type,
        'summary', a.summary, 'data', json(a.data), 'actor', json(a.actor)))
      FROM (SELECT * FROM rm_activity WHERE client_id = c.id AND firm_id = c.firm_id
            ORDER BY position DESC LIMIT 50) a))
)
FROM rm_clients c WHERE c.id = ? AND c.firm_id = ?
"""


@dataclass(frozen=True)
class FloorResult:
    """Latency of the one-statement profile, measured from this process."""

    count: int
    p50_ms: float
    p99_ms: float
    rps: float
    json_bytes: int


def measure_postgres(
    dsn: str, schema: str, firm: str, client_ids: list[str], seconds: float
) -> FloorResult:
    """Run the statement for each client in turn (prepared after the first executions)."""
    with psycopg.connect(dsn, options=f"-csearch_path={schema}", autocommit=True) as conn:

        def query(cid: str) -> str | None:
            row = conn.execute(PROFILE_SQL, (cid, firm), prepare=True).fetchone()
            return None if row is None else str(row[0])

        return _measure(query, client_ids, seconds)


def measure_sqlite(path: str, firm: str, client_ids: list[str], seconds: float) -> FloorResult:
    """The SQLite statement through the sqlite3 module."""
    conn = sqlite3.connect(path)
    try:

        def query(cid: str) -> str | None:
            row = conn.execute(SQLITE_PROFILE_SQL, (cid, firm)).fetchone()
            return None if row is None else str(row[0])

        return _measure(query, client_ids, seconds)
    finally:
        conn.close()


def _measure(
    query: Callable[[str], str | None], client_ids: list[str], seconds: float
) -> FloorResult:
    latencies: list[float] = []
    size = 0
    for cid in client_ids:  # warm-up, and check every client is found
        text = query(cid)
        if text is None:
            raise LookupError(f"client {cid} is not in rm_clients")
        size = max(size, len(text))
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds and n < 100_000:
        cid = client_ids[n % len(client_ids)]
        t0 = time.perf_counter()
        query(cid)
        latencies.append(time.perf_counter() - t0)
        n += 1
    elapsed = time.perf_counter() - started
    return FloorResult(
        count=len(latencies),
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        rps=len(latencies) / elapsed,
        json_bytes=size,
    )
