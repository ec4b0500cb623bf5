// SPDX-License-Identifier: MIT
//
// duckdb_parquet.mjs - the Parquet peer for the compression figure.
//
// Reads a CSV written by `cairn-gen --format csv` and has DuckDB write it as
// device-sorted zstd Parquet, the layout a user would pick for this data
// (shared/PEERS.md):
//
//   COPY (SELECT * FROM read_csv(csv) ORDER BY device_id, ts)
//     TO out (FORMAT parquet, COMPRESSION zstd)
//
// Column types come from read_csv's own detection, as a user would get them.
// Prints one line:
//   PEER name=duckdb_parquet rows=N field_values=N bytes=N bytes_per_value=X seconds=S
// where field_values = rows * 10 (the ten fields; ts and tags are not counted,
// though they are stored) and bytes is the file's allocated size (st_blocks),
// or its apparent size if larger.
//
// usage: node peers/duckdb_parquet.mjs <in.csv> <out.parquet>
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const FIELDS = 10;

function sqlString(s) {
    return `'${s.replaceAll("'", "''")}'`;
}

async function main() {
    const [csv, out] = process.argv.slice(2);
    if (!csv || !out) {
        console.error('usage: node peers/duckdb_parquet.mjs <in.csv> <out.parquet>');
        process.exit(2);
    }
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const t0 = process.hrtime.bigint();
    await conn.run(
        `COPY (SELECT * FROM read_csv(${sqlString(csv)}, header = true) ORDER BY device_id, ts) ` +
            `TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const reader = await conn.runAndReadAll(
        `SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(out)})`,
    );
    const rows = Number(reader.getRowObjects()[0].n);
    const st = statSync(out);
    const bytes = Math.max(st.size, st.blocks * 512);
    const values = rows * FIELDS;
    conn.closeSync();
    db.closeSync();
    console.log(
        `PEER name=duckdb_parquet rows=${rows} field_values=${values} bytes=${bytes} ` +
            `apparent_bytes=${st.size} bytes_per_value=${(bytes / values).toFixed(4)} ` +
            `seconds=${seconds.toFixed(2)}`,
    );
}

main().catch((e) => {
    console.error(`duckdb_parquet: ${e.message}`);
    process.exit(1);
});
