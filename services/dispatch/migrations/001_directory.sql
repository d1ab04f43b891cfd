-- Dispatch's directory and rules (DESIGN R8, R11, §5.7): departments, staff,
-- routing rules, SLA policies and the working-time calendar of each tenant.
-- Working state: rows change in place, and every change writes an audit
-- entry (subject "directory:<tenant>").  A tenant's defaults are created on
-- first use (tenant_setup).

CREATE TABLE tenant_setup (
  tenant_id   text        NOT NULL PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE departments (
  tenant_id   text        NOT NULL,
  id          text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name        text        NOT NULL,
  parent_id   text,
  head_id     text        NOT NULL DEFAULT '',
  deputy_ids  text[]      NOT NULL DEFAULT '{}',
  active      boolean     NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, parent_id) REFERENCES departments (tenant_id, id)
);

CREATE TABLE staff (
  tenant_id     text        NOT NULL,
  id            text        NOT NULL,  -- the JWT sub
  name          text        NOT NULL,
  department_id text        NOT NULL,
  skills        text[]      NOT NULL DEFAULT '{}',
  active        boolean     NOT NULL DEFAULT true,
  supervisor    boolean     NOT NULL DEFAULT false, -- receives overdue escalations (督办)
  open_load     integer     NOT NULL DEFAULT 0 CHECK (open_load >= 0), -- open cases handled
  last_assigned_at timestamptz NOT NULL DEFAULT '-infinity',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id)
);
CREATE INDEX staff_department ON staff (tenant_id, department_id) WHERE active;

CREATE TABLE routing_rules (
  tenant_id            text        NOT NULL,
  id                   uuid        NOT NULL,
  name                 text        NOT NULL,
  position             integer     NOT NULL,
  categories           smallint[]  NOT NULL DEFAULT '{}',
  channels             smallint[]  NOT NULL DEFAULT '{}',
  topic_keywords       text[]      NOT NULL DEFAULT '{}',
  description_keywords text[]      NOT NULL DEFAULT '{}',
  areas                text[]      NOT NULL DEFAULT '{}',
  target_department_id text        NOT NULL,
  required_skill       text        NOT NULL DEFAULT '',
  active               boolean     NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, target_department_id) REFERENCES departments (tenant_id, id)
);
CREATE INDEX routing_rules_order ON routing_rules (tenant_id, position, created_at) WHERE active;

-- Durations: amount + unit (1 working hours, 2 working days, 3 clock hours, 4 working minutes).
CREATE TABLE sla_policies (
  tenant_id        text     NOT NULL,
  category         smallint NOT NULL,
  priority         smallint NOT NULL,
  accept_amount    integer  NOT NULL CHECK (accept_amount > 0),
  accept_unit      smallint NOT NULL CHECK (accept_unit BETWEEN 1 AND 4),
  complete_amount  integer  NOT NULL CHECK (complete_amount > 0),
  complete_unit    smallint NOT NULL CHECK (complete_unit BETWEEN 1 AND 4),
  reply_amount     integer  NOT NULL CHECK (reply_amount > 0),
  reply_unit       smallint NOT NULL CHECK (reply_unit BETWEEN 1 AND 4),
  warning_permille integer  NOT NULL CHECK (warning_permille BETWEEN 1 AND 999),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, category, priority)
);

-- The calendar as the API message (hotline.dispatch.v1.Calendar), serialized:
-- one row per tenant, validated by the service before it is stored.
CREATE TABLE calendars (
  tenant_id   text        NOT NULL PRIMARY KEY,
  spec        bytea       NOT NULL,
  version     bigint      NOT NULL DEFAULT 1,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tenant_setup ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_setup FORCE ROW LEVEL SECURITY;
ALTER TABLE departments ENABLE ROW LEVEL SECURITY;
ALTER TABLE departments FORCE ROW LEVEL SECURITY;
ALTER TABLE staff ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff FORCE ROW LEVEL SECURITY;
ALTER TABLE routing_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE routing_rules FORCE ROW LEVEL SECURITY;
ALTER TABLE sla_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE sla_policies FORCE ROW LEVEL SECURITY;
ALTER TABLE calendars ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendars FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON tenant_setup
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON departments
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON staff
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON routing_rules
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON sla_policies
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON calendars
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT ON tenant_setup TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON departments, staff, routing_rules, sla_policies, calendars TO @RUNTIME@;
-- Timer work (system role, acting tenant set by the handler) reads the directory.
GRANT SELECT ON departments, staff, calendars TO @SYSTEM@;
