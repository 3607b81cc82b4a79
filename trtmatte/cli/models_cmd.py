from __future__ import annotations

import argparse
import json

from .base import Command


class Models(Command):
    """List the registered model variants with their parameter counts, and the bundled demo model.

    Example: trtmatte models --json
    """

    name = "models"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(self, args: argparse.Namespace) -> int:
        from ..checkpoints.bundled import bundled_models
        from ..models import count_parameters, create_model, get_config, list_models

        bundled = {b["variant"]: b for b in bundled_models()}
        rows = []
        for name in list_models():
            cfg = get_config(name)
            rows.append({"name": name, "family": cfg.family, "encoder": cfg.encoder,
                         "parameters": count_parameters(create_model(name)), "description": cfg.description,
                         "preprocessing": cfg.preprocessing.to_dict(), "bundled": bundled.get(name)})
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print(f"{'variant':<18} {'encoder':<12} {'parameters':>12}  description")
        for r in rows:
            print(f"{r['name']:<18} {r['encoder']:<12} {r['parameters']:>12,}  {r['description']}")
        for b in bundled.values():
            if not b["present"]:
                print(f"\nbundled demo model ({b['variant']}): not installed ({b['path']} is missing); "
                      "`trtmatte matte` needs --weights until it is")
                continue
            p = b["provenance"]
            print(f"\nbundled demo model ({b['variant']}, default of `trtmatte matte`): {b['path']} "
                  f"({b['bytes'] / 1e6:.1f} MB)")
            for key in ("weights", "data", "stages", "device", "command", "quality", "trtmatte_version"):
                if key in p:
                    value = p[key] if isinstance(p[key], str) else json.dumps(p[key])
                    print(f"  {key}: {value}")
        return 0
