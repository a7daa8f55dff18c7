"""A tiny client under the conformance client contract, for testing the cmd adapter and the plugin.

It records each run in ``state_dir/runs.jsonl``, sends one MCP POST per call_tool (with its actor header)
and writes an outcome. FAKE_MODE (env or context "mode"): "" normal | "hang" | "exit3" (no outcome) |
"stdout" (outcome on stdout, not the file) | "fail" (every step fails).
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request


def post(url: str, actor: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"text": "x"}}}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream", "x-harness-actor": actor})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main() -> int:
    url = sys.argv[-1]
    ctx = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    mode = os.environ.get("FAKE_MODE") or ctx.get("mode") or ""
    actor = ctx.get("actor", "main")
    actions = ctx.get("actions") or [{"do": "connect"}]
    state_dir = ctx.get("state_dir")
    if state_dir:
        with open(os.path.join(state_dir, "runs.jsonl"), "a") as fh:
            fh.write(json.dumps({"actor": actor, "actions": [a["do"] for a in actions],
                                 "scenario": os.environ.get("MCP_CONFORMANCE_SCENARIO"),
                                 "segment": ctx.get("segment")}) + "\n")
    if mode == "hang":
        time.sleep(3600)
    if mode == "exit3":
        return 3
    steps = []
    for a in actions:
        status = post(url, actor) if a["do"] in ("call_tool", "burst") else 0
        ok = mode != "fail"
        steps.append({"action": a, "ok": ok, "error": None if ok else "authorization_failed:invalid_grant",
                      "detail": f"status {status}"})
    outcome = {"ok": all(s["ok"] for s in steps), "steps": steps}
    if mode == "stdout" or not ctx.get("outcome_json"):
        print("some log line")
        print(json.dumps(outcome))
    else:
        with open(ctx["outcome_json"], "w") as fh:
            json.dump(outcome, fh)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
