// SPDX-License-Identifier: MIT
//
// battery.mjs - InfluxQL answers of a running cairn against reference
// answers DuckDB computes from the generator's CSV (the 'small' workload).
//
//   node battery.mjs URL DB CSV
//
// Each case is an InfluxQL query and a SQL query over the view `t`
// (ts in ms, device_id, fleet, model, the ten fields).  cairn's answer
// (epoch=ms) is flattened to rows [tag values of the series in key order...,
// time, values...] in response order; the SQL query returns the same
// rows.  Numbers compare with 1e-9 relative tolerance (the order of float
// summation may differ), everything else exactly.  Prints one "ok N - q"
// line per case; exits 1 at the first mismatch with both answers.
import { DuckDBInstance } from "@duckdb/node-api";

const [url, dbname, csv] = process.argv.slice(2);
const T0 = 1767225600000; // 2026-01-01T00:00:00Z
const M = 60000;
const ts = (min) => `'${new Date(T0 + min * M).toISOString().replace(".000Z", "Z")}'`;
const dev = "dev-000007";

const cases = [
  // ---- SHOW
  { q: "SHOW MEASUREMENTS", sql: "select 'telemetry'" },
  { q: "SHOW TAG KEYS FROM telemetry", sql: "select * from (values ('device_id'),('fleet'),('model'))" },
  {
    q: "SHOW FIELD KEYS FROM telemetry",
    sql: `select * from (values ('battery','integer'),('current','float'),('humidity','float'),
          ('latitude','float'),('longitude','float'),('pressure','float'),('rpm','integer'),
          ('status','integer'),('temperature','float'),('voltage','float'))`,
  },
  {
    q: "SHOW TAG VALUES FROM telemetry WITH KEY = model",
    sql: "select distinct 'model', model from t order by 2",
  },
  {
    q: "SHOW TAG VALUES FROM telemetry WITH KEY = device_id WHERE fleet = 'fleet-3' LIMIT 4",
    sql: "select distinct 'device_id', device_id from t where fleet='fleet-3' order by 2 limit 4",
  },
  {
    q: "SHOW SERIES FROM telemetry WHERE fleet = 'fleet-2' AND model = 'mx-5'",
    sql: `select distinct 'telemetry,device_id='||device_id||',fleet='||fleet||',model='||model k
          from t where fleet='fleet-2' and model='mx-5' order by 1`,
  },
  // ---- aggregates over everything
  {
    q: "SELECT count(temperature), sum(rpm), mean(humidity) FROM telemetry",
    sql: "select 0, count(temperature), sum(rpm), avg(humidity) from t",
  },
  {
    q: "SELECT count(*) FROM telemetry",
    sql: `select 0, count(battery), count("current"), count(humidity), count(latitude),
          count(longitude), count(pressure), count(rpm), count(status), count(temperature),
          count(voltage) from t`,
  },
  {
    q: `SELECT min(voltage), max(voltage), spread(voltage), stddev(voltage) FROM telemetry
        WHERE device_id = '${dev}'`,
    sql: `select 0, min(voltage), max(voltage), max(voltage)-min(voltage), stddev_samp(voltage)
          from t where device_id='${dev}'`,
  },
  {
    q: `SELECT median(temperature) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `select 0, median(temperature) from t where device_id='${dev}'`,
  },
  {
    q: `SELECT mode(battery) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `select 0, battery from t where device_id='${dev}' group by battery
          order by count(*) desc, battery limit 1`,
  },
  {
    q: `SELECT count(distinct(battery)) FROM telemetry WHERE fleet = 'fleet-1'`,
    sql: `select 0, count(distinct battery) from t where fleet='fleet-1'`,
  },
  {
    q: `SELECT distinct(status) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `select distinct 0, status from t where device_id='${dev}' order by 2`,
  },
  // selectors: the selected point's time
  {
    q: `SELECT max(temperature) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `select ts, temperature from t where device_id='${dev}'
          order by temperature desc, ts limit 1`,
  },
  {
    q: `SELECT min(pressure) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `select ts, pressure from t where device_id='${dev}' order by pressure, ts limit 1`,
  },
  {
    q: `SELECT first(humidity) FROM telemetry WHERE device_id = '${dev}' AND time >= ${ts(10)}`,
    sql: `select ts, humidity from t where device_id='${dev}' and ts >= ${T0 + 10 * M}
          order by ts limit 1`,
  },
  {
    q: `SELECT last(current) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `select ts, "current" from t where device_id='${dev}' order by ts desc limit 1`,
  },
  {
    q: `SELECT percentile(temperature, 90) FROM telemetry WHERE device_id = '${dev}'`,
    sql: `with v as (select ts, temperature, row_number() over (order by temperature, ts) rn,
          count(*) over () n from t where device_id='${dev}')
          select ts, temperature from v where rn = cast(floor(n*0.9+0.5) as int)`,
  },
  // ---- GROUP BY time
  {
    q: `SELECT mean(temperature) FROM telemetry WHERE device_id = '${dev}'
        AND time >= ${ts(0)} AND time < ${ts(20)} GROUP BY time(1m)`,
    sql: `select ts//60000*60000 b, avg(temperature) from t where device_id='${dev}'
          and ts < ${T0 + 20 * M} group by b order by b`,
  },
  {
    q: `SELECT count(rpm), sum(rpm) FROM telemetry WHERE fleet = 'fleet-4'
        AND time >= ${ts(0)} AND time < ${ts(60)} GROUP BY time(7m)`,
    sql: `select ts//420000*420000 b, count(rpm), sum(rpm) from t where fleet='fleet-4'
          group by b order by b`,
  },
  {
    q: `SELECT max(humidity) FROM telemetry WHERE device_id = '${dev}'
        AND time >= ${ts(0)} AND time < ${ts(30)} GROUP BY time(10m, 3m)`,
    sql: `select (ts-180000)//600000*600000+180000 b, max(humidity) from t
          where device_id='${dev}' and ts < ${T0 + 30 * M} group by b order by b`,
  },
  // ---- GROUP BY tags
  {
    q: "SELECT mean(temperature) FROM telemetry GROUP BY fleet",
    sql: "select fleet, 0, avg(temperature) from t group by fleet order by fleet",
  },
  {
    q: "SELECT max(rpm) FROM telemetry WHERE fleet = 'fleet-5' GROUP BY *",
    sql: `select device_id, fleet, model, ts, rpm from (select *, row_number() over
          (partition by device_id order by rpm desc, ts) rn from t where fleet='fleet-5')
          where rn = 1 order by device_id`,
  },
  {
    q: `SELECT count(status) FROM telemetry WHERE time >= ${ts(0)} AND time < ${ts(60)}
        GROUP BY time(30m), model`,
    sql: `select model, ts//1800000*1800000 b, count(status) from t group by model, b
          order by model, b`,
  },
  {
    q: "SELECT sum(battery) FROM telemetry GROUP BY model SLIMIT 2 SOFFSET 1",
    sql: "select model, 0, sum(battery) from t group by model order by model limit 2 offset 1",
  },
  // ---- WHERE on tags and fields
  {
    q: "SELECT count(temperature) FROM telemetry WHERE fleet != 'fleet-0' AND model =~ /^th-/",
    sql: "select 0, count(*) from t where fleet <> 'fleet-0' and model like 'th-%'",
  },
  {
    q: "SELECT count(voltage) FROM telemetry WHERE device_id !~ /[0-4]$/",
    sql: "select 0, count(*) from t where not regexp_matches(device_id, '[0-4]$')",
  },
  {
    q: `SELECT count(rpm) FROM telemetry WHERE (temperature > 25 OR humidity < 40)
        AND status = 0`,
    sql: "select 0, count(*) from t where (temperature > 25 or humidity < 40) and status = 0",
  },
  {
    q: `SELECT mean(pressure) FROM telemetry WHERE fleet = 'fleet-8' OR model = 'gw-1'`,
    sql: "select 0, avg(pressure) from t where fleet='fleet-8' or model='gw-1'",
  },
  // ---- raw selects
  {
    q: `SELECT temperature, rpm FROM telemetry WHERE device_id = '${dev}' LIMIT 5 OFFSET 3`,
    sql: `select ts, temperature, rpm from t where device_id='${dev}' order by ts
          limit 5 offset 3`,
  },
  {
    q: `SELECT temperature FROM telemetry WHERE device_id = '${dev}' ORDER BY time DESC LIMIT 4`,
    sql: `select ts, temperature from t where device_id='${dev}' order by ts desc limit 4`,
  },
  {
    q: `SELECT voltage * current AS power, device_id FROM telemetry WHERE fleet = 'fleet-9'
        AND time < ${ts(1)}`,
    sql: `select ts, voltage*"current", device_id from t where fleet='fleet-9'
          and ts < ${T0 + M} order by ts, device_id`,
  },
  {
    q: `SELECT temperature FROM telemetry WHERE device_id = '${dev}' AND temperature > 24.5
        AND time > ${ts(5)} AND time <= ${ts(25)}`,
    sql: `select ts, temperature from t where device_id='${dev}' and temperature > 24.5
          and ts > ${T0 + 5 * M} and ts <= ${T0 + 25 * M} order by ts`,
  },
];

const inst = await DuckDBInstance.create(":memory:");
const con = await inst.connect();
await con.run(`create view t as select * from read_csv('${csv}', header=true)`);

function norm(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "object" && "toDouble" in v) return v.toDouble();
  return v;
}

function same(a, b) {
  if (a === null || b === null) return a === b;
  if (typeof a === "number" && typeof b === "number") {
    if (a === b) return true;
    return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  }
  return String(a) === String(b);
}

let n = 0;
for (const c of cases) {
  n++;
  const q = c.q.replace(/\s+/g, " ").trim();
  const res = await fetch(`${url}/query?db=${dbname}&epoch=ms&q=${encodeURIComponent(q)}`);
  const body = await res.json();
  const got = [];
  const r0 = body.results && body.results[0];
  if (!r0 || r0.error || body.error) {
    console.error(`FAIL ${n}: ${q}\n  cairn: ${JSON.stringify(body)}`);
    process.exit(1);
  }
  for (const s of r0.series || []) {
    const tv = s.tags ? Object.keys(s.tags).sort().map((k) => s.tags[k]) : [];
    for (const row of s.values || []) got.push([...tv, ...row]);
  }
  const ref = (await con.runAndReadAll(c.sql)).getRows().map((r) => r.map(norm));
  let ok = got.length === ref.length;
  for (let i = 0; ok && i < got.length; i++) {
    ok = got[i].length === ref[i].length;
    for (let k = 0; ok && k < got[i].length; k++) ok = same(got[i][k], ref[i][k]);
  }
  if (!ok) {
    console.error(`FAIL ${n}: ${q}\n  cairn:  ${JSON.stringify(got.slice(0, 20))}` +
      `\n  duckdb: ${JSON.stringify(ref.slice(0, 20))}`);
    process.exit(1);
  }
  console.log(`ok ${n} - ${q}`);
}
console.log(`battery: ${n} queries agree with DuckDB`);
