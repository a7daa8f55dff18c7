import json

from harness.gate import catalogue_id, main, tied


def _write(tmp_path, rows):
    p = tmp_path / "mutants.json"
    p.write_text(json.dumps({"run": {}, "checks": rows}))
    return str(p)


def row(client, status, reqs, check="x"):
    return {"client": client, "status": status, "requirements": reqs, "check": check}


def test_ids():
    assert catalogue_id("mutant:C08-no-refresh-singleflight") == "C08"
    assert catalogue_id("reference") is None
    assert tied(["C08", "RFC6749-6"], "C08") and tied(["C08.x"], "C08") and not tied(["C080"], "C08")


def test_all_killed(tmp_path, capsys):
    rows = [row("mutant:C08-a", "FAIL", ["C08"]), row("mutant:C14-b", "PASS", ["C14"]),
            row("mutant:C14-b", "FAIL", ["C14", "RFC6749-6"]), row("reference", "PASS", ["C08"])]
    assert main([_write(tmp_path, rows)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "mutants: 2 passed, 0 failed"


def test_survivor_killed_only_by_another_id(tmp_path, capsys):
    rows = [row("mutant:C08-a", "FAIL", ["C08"]), row("mutant:C14-b", "FAIL", ["C08"], "C08.single"),
            row("mutant:C21-c", "PASS", ["C21"])]
    assert main([_write(tmp_path, rows)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "mutants: 1 passed, 2 failed"
    assert any(line.startswith("survived: mutant:C14-b") and "C08.single" in line for line in out)
    assert any(line.startswith("survived: mutant:C21-c") for line in out)


def test_no_mutant_ran_fails(tmp_path, capsys):
    assert main([_write(tmp_path, [row("reference", "PASS", ["C08"])])]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1] == "mutants: 0 passed, 0 failed"


def test_unreadable_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json")]) == 1
    assert main([]) == 2
