"""Renders every template in this folder with every conversation of scenarios.json, the way HF's
apply_chat_template does (transformers' chat_template_utils), and prints goldens.json."""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


def make_env(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    with open(os.path.join(HERE, "scenarios.json"), encoding="utf-8") as f:
        spec = json.load(f)
    env = make_env(datetime.fromisoformat(spec["clock"]))
    goldens = {}
    for name, template in sorted(spec["templates"].items()):
        with open(os.path.join(HERE, template["file"]), encoding="utf-8", newline="") as f:
            compiled = env.from_string(f.read())
        results = {}
        for scenario in spec["scenarios"]:
            variables = dict(
                messages=scenario["messages"],
                tools=scenario.get("tools"),
                documents=scenario.get("documents"),
                add_generation_prompt=scenario.get("add_generation_prompt", False),
            )
            # HF passes the tokenizer's special tokens; a model without one leaves the variable undefined.
            for token in ("bos", "eos"):
                if template.get(token) is not None:
                    variables[token + "_token"] = template[token]
            variables.update(scenario.get("extra", {}))
            try:
                results[scenario["name"]] = {"output": compiled.render(**variables)}
            except jinja2.exceptions.TemplateError as e:
                is_raised = type(e) is jinja2.exceptions.TemplateError
                results[scenario["name"]] = {"error": str(e) if is_raised else "!" + type(e).__name__}
            except Exception as e:  # noqa: BLE001 - any failure is a golden outcome
                results[scenario["name"]] = {"error": "!" + type(e).__name__}
        goldens[name] = results
    print(json.dumps(goldens, indent=1, ensure_ascii=False))


main()
