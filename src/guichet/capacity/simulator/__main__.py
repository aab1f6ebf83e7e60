"""python -m guichet.capacity.simulator [--profile NAME|FILE] [--host H] [--port P] [--speed X] ..."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from guichet.capacity.simulator.profile import DEFAULT_PROFILE, ProfileError, bundled_names, load_profile


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m guichet.capacity.simulator",
        description=("Serveur compatible OpenAI qui se comporte comme vLLM sur un GPU donné (sans GPU)."),
    )
    parser.add_argument(
        "--profile", default=DEFAULT_PROFILE, help=f"nom ({', '.join(bundled_names())}) ou JSON"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="accélération du temps (10 = dix fois plus vite ; les rapports sont gardés)",
    )
    parser.add_argument("--max-num-seqs", type=int, default=None, help="remplace celui du profil")
    parser.add_argument("--output-tokens", type=int, default=None, help="longueur d'une réponse (jetons)")
    parser.add_argument(
        "--stream-interval",
        type=int,
        default=1,
        help="jetons par fragment SSE (comme vLLM --stream-interval ; moins de CPU)",
    )
    parser.add_argument("--served-model-name", default="")
    args = parser.parse_args(argv)
    if args.speed <= 0 or args.stream_interval < 1 or not 0 <= args.port < 65536:
        parser.error("--speed doit être positif, --stream-interval ≥ 1 et --port entre 0 et 65535")
    return args


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from guichet.capacity.simulator.server import create_app

    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        profile = load_profile(args.profile)
        overrides = {
            k: v
            for k, v in (("max_num_seqs", args.max_num_seqs), ("output_tokens", args.output_tokens))
            if v is not None
        }
        profile = dataclasses.replace(profile, **overrides)
    except ProfileError as exc:
        print(f"guichet.capacity.simulator: {exc}", file=sys.stderr)
        sys.exit(2)
    app = create_app(
        profile, speed=args.speed, stream_interval=args.stream_interval, model_name=args.served_model_name
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
