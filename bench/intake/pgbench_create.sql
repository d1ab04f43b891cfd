-- pgbench_create.sql - the raw-SQL reference for the CreateTicket benchmark: one
-- pgbench "transaction" runs every statement, in the same order and in the same
-- database transaction, that hotline-intake runs on PostgreSQL to register a group of
-- one ticket (services/intake/rpc_create.c, store.c, common/src/pg.c, audit.c,
-- enqueue.c); under concurrency the service puts the tickets that arrive together in
-- one group (hl/group.h), with the same statements carrying more rows each:
--
--   BEGIN; set_config(tenant, statement_timeout); the group's ticket numbers, time and
--   repeat callers (one SELECT: the phone's per-period blind indexes of every live period,
--   and the pre-004 tenant-wide index per live period); then, unread until the COMMIT,
--   the tickets + registration records (one CTE over unnest of one array per column, no
--   clear masks, the request digest; a repeated request_id is found by its unique key, so
--   there is no read before it); the public notes; then the rows that wait for the COMMIT
--   (hl_pg_rows_at_commit): the audit entries (one CTE, new subjects, so no head lock) and
--   the outbox rows to dispatch and to reporting (one statement); COMMIT
--
-- The service sends BEGIN and the set_config SELECT in one simple query; pgbench sends
-- them as two, one round trip more for the raw SQL.
--
-- The business statements are the service's SQL text with pgbench variables in place of
-- its $n parameters.  What the service computes in its own process (UUIDv7 ids, AES-GCM
-- ciphertexts, the HMAC blind index of the phone, masks, the audit hash, the protobuf
-- outbox payloads) comes here from extra output columns of the set_config SELECT
-- (\gset): no extra round trip, random values of the same sizes (wrapped key 61 bytes,
-- name 38, phone 40, query code 37, hash 32, request digest 32; "v2:" + 64 hex digits per
-- blind index; payloads of about the service's sizes).
-- Run it as the service's runtime role (HOTLINE_INTAKE_DSN) so that row-level security
-- applies exactly as for the service, with -M prepared (the service prepares its
-- statements once per connection) and the variables
--   -D tenant=demo -D timeout_ms=10000
-- e.g.  pgbench -n -M prepared -D tenant=demo -D timeout_ms=10000 -f pgbench_create.sql
--               -c 8 -j 2 -T 10 "$HOTLINE_INTAKE_DSN"      (bench/intake/run.sh does this)

\set rq random(1, 9223372036854775806)
\set ti random(1, 10)
\set di random(1, 6)
\set ai random(1, 7)
\set phone random(13000000000, 13000999999)
\set channel random(1, 6)
\set category random(1, 6)
\set conf case when :category = 3 then 2 else 1 end
\set status 1
\set priority 1

-- the registration (register_ticket)
BEGIN;
WITH g AS (
  SELECT gen_random_uuid() AS tid, gen_random_uuid() AS eid,
         uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
           || uuid_send(gen_random_uuid()) AS b,
         (ARRAY['小区夜间施工噪音扰民', '道路积水严重影响出行', '公交站台广告牌破损存在安全隐患',
                '供暖温度不达标', '物业乱收停车费', '餐馆油烟直排居民楼', '共享单车乱停放堵塞人行道',
                '咨询居住证办理流程', '建议增设社区老年食堂', '路灯损坏夜间无照明'])[:ti::int] AS topic,
         (ARRAY['市民反映：小区东门外工地每晚十点后仍在施工，机械噪音很大，老人孩子无法休息，已持续一周，请相关部门尽快核实并依法处理。',
                '来电人称：暴雨后路口积水超过二十厘米，车辆熄火，行人只能绕行，排水口疑似被落叶和垃圾堵塞，希望尽快疏通。',
                '市民反映所在楼栋暖气温度长期低于十六度，多次联系供热公司未果，家中有婴儿，请求督促整改。',
                '来电人反映楼下餐馆油烟未经净化直接排放，窗户无法打开，气味刺鼻，要求环保部门检查处理。',
                '市民咨询外地户籍人员办理居住证需要准备哪些材料，办理地点和所需时间，以及能否网上预约。',
                '来电人建议在社区活动中心增设老年食堂，解决独居老人吃饭难的问题，并提供送餐服务。'])[:di::int]
           AS description,
         (ARRAY['朝阳区', '海淀区', '东城区', '西城区', '丰台区', '石景山区', '通州区'])[:ai::int] AS area
)
SELECT set_config('hotline.tenant', :tenant, true) AS cfg_tenant,
       set_config('statement_timeout', :timeout_ms, true) AS cfg_timeout,
       tid, eid, topic, description, area,
       'pgbench-agent' AS actor, '' AS answer, false AS anonymous,
       'Asia/Shanghai' AS tz, to_char(now() + interval '10 years', 'YYYY') AS period,
       'v2:' || encode(sha256(convert_to(:phone::text, 'UTF8')), 'hex') AS pix1,
       'v2:' || encode(sha256(convert_to(:phone::text || 'p', 'UTF8')), 'hex') AS pix2,
       encode(sha256(convert_to(:phone::text || 'legacy', 'UTF8')), 'hex') AS lpix,
       to_char(now(), 'YYYY') AS period1, to_char(now() + interval '10 years', 'YYYY') AS period2,
       substring(b from 1 for 61) AS wk, substring(b from 2 for 38) AS cn,
       substring(b from 3 for 40) AS cp, substring(b from 4 for 37) AS qc,
       sha256(b) AS h, encode(sha256(b || b), 'hex') AS rdig, decode(repeat('00', 32), 'hex') AS zero32,
       (extract(epoch from clock_timestamp()) * 1000000)::bigint AS at_us,
       tid::text || chr(58) || 'submit' AS ik_dispatch,
       convert_to(tid::text || '202611220000001' || topic || description || area || 'pgbench-agent'
                  || repeat('.', 40), 'UTF8') AS pd,
       convert_to(eid::text || :tenant::text || 'ticket.registered' || tid::text || 'pgbench-agent'
                  || '202611220000001' || area || 'pgbench-agent' || repeat('.', 45), 'UTF8') AS pr
FROM g \gset
SELECT (extract(epoch from now()) * 1000000)::bigint AS now_us, to_char(now() AT TIME ZONE :tz, 'YYYYMMDD') AS day, ARRAY(SELECT lpad(n::text, greatest(7, length(n::text)), '0') FROM (SELECT nextval('ticket_no_seq') AS n FROM generate_series(1, 1::int)) s) AS nos, ARRAY(SELECT DISTINCT k.o FROM unnest(ARRAY[:pix1, :pix2, :lpix, :lpix]::text[], ARRAY[NULL, NULL, :period1, :period2]::text[], ARRAY[0, 0, 0, 0]::int[]) AS k(ix, period, o) WHERE EXISTS (SELECT 1 FROM tickets WHERE tenant_id = current_tenant() AND phone_index = k.ix AND (k.period IS NULL OR key_period = k.period))) AS seen \gset
WITH u AS (SELECT * FROM unnest(ARRAY[:tenant]::text[], ARRAY[:tid]::uuid[], ARRAY[:day || (:nos::text[])[1]]::text[], ARRAY[:rq]::text[], ARRAY[:status]::smallint[], ARRAY[:channel]::smallint[], ARRAY[:category]::smallint[], ARRAY[:priority]::smallint[], ARRAY[:conf]::smallint[], ARRAY[:topic]::text[], ARRAY[:description]::text[], ARRAY[:area]::text[], ARRAY[:answer]::text[], ARRAY[:actor]::text[], ARRAY[:anonymous]::bool[], ARRAY[cardinality(:seen::int[]) > 0]::bool[], ARRAY[:pix1]::text[], ARRAY[:period]::text[], ARRAY[:wk]::bytea[], ARRAY[:cn]::bytea[], ARRAY[:cp]::bytea[], ARRAY[NULL]::bytea[], ARRAY[NULL]::bytea[], ARRAY[NULL]::bytea[], ARRAY[:qc]::bytea[], ARRAY[:rdig]::text[], ARRAY['{}']::text[]) AS u(tenant_id, id, ticket_no, request_id, status, channel, category, priority, confidentiality, topic, description, area, answer, registered_by, anonymous, repeat_caller, phone_index, key_period, wrapped_key, caller_name, caller_phone, caller_id_number, caller_address, caller_email, query_code, request_digest, implicated)), t AS (INSERT INTO tickets (tenant_id, id, ticket_no, request_id, status, status_version, channel, category, priority, confidentiality, topic, description, area, answer, registered_by, anonymous, repeat_caller, phone_index, key_period, wrapped_key, caller_name, caller_phone, caller_id_number, caller_address, caller_email, query_code, request_digest, implicated_departments) SELECT tenant_id, id, ticket_no, request_id, status, 1, channel, category, priority, confidentiality, topic, description, area, answer, registered_by, anonymous, repeat_caller, phone_index, key_period, wrapped_key, caller_name, caller_phone, caller_id_number, caller_address, caller_email, query_code, request_digest, implicated::text[] FROM u) INSERT INTO registrations (tenant_id, ticket_id, channel, category, priority, confidentiality, topic, description, area, anonymous, answer, registered_by, caller_name, caller_phone, caller_id_number, caller_address, caller_email) SELECT tenant_id, id, channel, category, priority, confidentiality, topic, description, area, anonymous, answer, registered_by, caller_name, caller_phone, caller_id_number, caller_address, caller_email FROM u;
INSERT INTO public_notes (tenant_id, ticket_id, status, note) SELECT current_tenant(), * FROM unnest(ARRAY[:tid]::uuid[], ARRAY[:status]::smallint[], ARRAY['已受理 registered']::text[]);
WITH u AS (SELECT * FROM unnest(ARRAY[:tenant]::text[], ARRAY['ticket']::text[], ARRAY[:tid]::text[], ARRAY[1]::bigint[], ARRAY[:actor]::text[], ARRAY['ticket.create']::text[], ARRAY[:at_us]::bigint[], ARRAY[json_build_object('ticket_no', :day || (:nos::text[])[1], 'status', :status::int, 'channel', :channel::int, 'category', :category::int, 'priority', :priority::int, 'request_id', :rq::text)::text]::text[], ARRAY[:zero32]::bytea[], ARRAY[:h]::bytea[]) AS u(tenant_id, subject_type, subject_id, seq, actor, action, at_us, details, prev_hash, hash)), l AS (INSERT INTO audit_log (tenant_id, subject_type, subject_id, seq, actor, action, at_us, details, prev_hash, hash) SELECT * FROM u) INSERT INTO audit_heads (tenant_id, subject_id, subject_type, entries, head_hash) SELECT DISTINCT ON (tenant_id, subject_id) tenant_id, subject_id, subject_type, seq, hash FROM u ORDER BY tenant_id, subject_id, seq DESC ON CONFLICT (tenant_id, subject_id) DO UPDATE SET entries = EXCLUDED.entries, head_hash = EXCLUDED.head_hash;
INSERT INTO outbox (tenant_id, subject_id, target, method, idempotency_key, actor, payload) SELECT t, s, g, m, (array_agg(k ORDER BY o))[1], a, string_agg(p, ''::bytea ORDER BY o) FROM (SELECT u.*, CASE WHEN m = '/hotline.reporting.v1.ReportingService/RecordEvents' THEN (row_number() OVER (PARTITION BY t, s, g, m, a ORDER BY o) - 1) / 100 ELSE -o END AS part FROM unnest(ARRAY[:tenant, :tenant]::text[], ARRAY[:tid, :tid]::text[], ARRAY['dispatch', 'reporting']::text[], ARRAY['/hotline.dispatch.v1.DispatchService/SubmitTicket', '/hotline.reporting.v1.ReportingService/RecordEvents']::text[], ARRAY[:ik_dispatch, :eid]::text[], ARRAY[:actor, :actor]::text[], ARRAY[:pd, :pr]::bytea[]) WITH ORDINALITY AS u(t, s, g, m, k, a, p, o)) x GROUP BY t, s, g, m, a, part ORDER BY min(o);
COMMIT;
