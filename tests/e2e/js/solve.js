// Calls the official DecisionRules SDK as its users do, against a flowjobs
// server. Reads one JSON job from stdin:
//   {"host", "solverKey", "managementKey", "calls": [{"op": "solve"|"createRule"|"getRule", ...}]}
// and prints one JSON line: {"results": [{"ok": true, "value": ...} | {"ok": false, "status", "body"}]}
"use strict";
const DecisionRules = require("@decisionrules/decisionrules").default;
const axios = require("axios"); // the SDK's own axios (one copy in node_modules)

// The SDK returns only the body; the headers of each answer are kept here so
// that the test sees the correlation id and audit id the server sent back.
let lastHeaders = {};
axios.interceptors.response.use((response) => {
  lastHeaders = response.headers;
  return response;
});

async function run(job) {
  const dr = new DecisionRules({
    host: job.host,
    solverKey: job.solverKey,
    managementKey: job.managementKey,
  });
  const results = [];
  for (const call of job.calls) {
    try {
      let value;
      if (call.op === "solve") {
        value = await dr.solve(call.rule, call.data, call.version, call.options);
      } else if (call.op === "createRule") {
        value = await dr.management.createRule(call.rule);
      } else if (call.op === "getRule") {
        value = await dr.management.getRule(call.rule, call.version);
      } else {
        throw new Error("unknown op " + call.op);
      }
      results.push({
        ok: true,
        value,
        correlationId: lastHeaders["x-correlation-id"] || null,
        auditId: lastHeaders["x-audit-id"] || null,
      });
    } catch (e) {
      // The SDK throws DecisionRulesErrorException("Call ended with status:404", body).
      const status = /status:(\d+)/.exec(String(e.message));
      results.push({ ok: false, status: status ? Number(status[1]) : null, body: e.cause || String(e) });
    }
  }
  return results;
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  run(JSON.parse(input)).then(
    (results) => process.stdout.write(JSON.stringify({ results }) + "\n"),
    (e) => {
      process.stderr.write(String(e) + "\n");
      process.exit(1);
    },
  );
});
