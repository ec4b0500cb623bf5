// SPDX-License-Identifier: MIT
// parquet_check.mjs - reads a Parquet file with DuckDB (@duckdb/node-api) and
// prints what test_parquet.c compares with what it wrote, one fact a line:
//   type <column> <DuckDB type>
//   rows <count>
//   agg <column> <count> <min> <max> [<sum>]        (numeric and string columns)
//   row <v>|<v>|...                                   (with --rows)
//   schema <name> <type> <converted_type> <logical_type> <repetition>
//   meta <row group> <column> <codec> <num_values> <nulls> <min> <max> <encodings>
//   kv <key> <value>
// Values print exactly: DOUBLE as the hex of its IEEE bits, TIMESTAMP* as
// epoch nanoseconds, strings as x<hex of UTF-8>, NULL as NULL.
// Usage: node parquet_check.mjs FILE [--rows]
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
const withRows = process.argv.includes('--rows');
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const lit = `'${file.replaceAll("'", "''")}'`;

async function rows(sql) {
  const r = await con.runAndReadAll(sql);
  return r.getRows();
}

function hexDouble(v) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return dv.getBigUint64(0).toString(16).padStart(16, '0');
}

function show(v, type) {
  if (v === null || v === undefined) return 'NULL';
  if (type === 'DOUBLE') return hexDouble(Number(v));
  if (type === 'VARCHAR') return 'x' + Buffer.from(String(v), 'utf8').toString('hex');
  return String(v);
}

const cols = await rows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${lit}))`);
const out = [];
for (const [name, type] of cols) out.push(`type ${name} ${type}`);
const [[count]] = await rows(`SELECT count(*) FROM read_parquet(${lit})`);
out.push(`rows ${count}`);

// Timestamps become epoch nanoseconds, so no time zone or precision is involved.
const q = (n) => `"${n.replaceAll('"', '""')}"`;
const sel = cols.map(([n, t]) => (t.startsWith('TIMESTAMP') ? `epoch_ns(${q(n)})` : q(n)));
for (const [i, [name, type]] of cols.entries()) {
  const numeric = type === 'DOUBLE' || type === 'BIGINT';
  const s = sel[i];
  const sum = numeric ? `, sum(${s})` : '';
  const [r] = await rows(`SELECT count(${s}), min(${s}), max(${s})${sum} FROM read_parquet(${lit})`);
  const shown = type.startsWith('TIMESTAMP') ? 'BIGINT' : type;
  out.push(`agg ${name} ${r[0]} ${show(r[1], shown)} ${show(r[2], shown)}` +
           (numeric ? ` ${show(r[3], shown)}` : ''));
}
if (withRows) {
  for (const r of await rows(`SELECT ${sel.join(', ')} FROM read_parquet(${lit})`)) {
    out.push('row ' + r.map((v, i) => show(v, cols[i][1].startsWith('TIMESTAMP') ? 'BIGINT' : cols[i][1])).join('|'));
  }
}
for (const r of await rows(`SELECT name, type, converted_type, logical_type, repetition_type FROM parquet_schema(${lit})`)) {
  out.push('schema ' + r.map((v) => (v === null ? 'NULL' : String(v))).join(' '));
}
for (const r of await rows(`SELECT row_group_id, path_in_schema, compression, num_values, stats_null_count,
    stats_min_value, stats_max_value, encodings FROM parquet_metadata(${lit}) ORDER BY row_group_id, column_id`)) {
  out.push('meta ' + r.map((v) => (v === null ? 'NULL' : String(v))).join(' '));
}
for (const r of await rows(`SELECT decode(key), decode(value) FROM parquet_kv_metadata(${lit})`)) {
  out.push(`kv ${r[0]} ${r[1]}`);
}
process.stdout.write(out.join('\n') + '\n');
