"""Puts the agent workspace (desk/) in the SAM stack's desk bucket (DESK-1), laid out as
`switchboard serve` serves it (functions/local/src/desk.rs): index.html at the root, the rest under
desk/, every file with its content type and `Cache-Control: no-cache` (the distribution
revalidates, so a deploy shows at the next load), the config.json the stack describes (OIDC
sign-in, the API's URL) instead of the local one, files no longer in desk/ removed (the bucket
keeps old versions for 30 days), then the distribution invalidated. Run by scripts/deploy-desk."""

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESK = ROOT / "desk"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}
CONFIG_KEY = "desk/config.json"


def desk_files(desk=DESK):
    """The files the desk is made of, as (key, path, content type), config.json left out: the
    page, its style sheet and its modules."""
    files = [("index.html", desk / "index.html"), ("desk/desk.css", desk / "desk.css")]
    files += [(f"desk/js/{p.name}", p) for p in sorted((desk / "js").glob("*.js"))]
    return [(key, path, TYPES[path.suffix]) for key, path in files]


def checked_config(text):
    """The stack's config.json, refused when it would not sign anyone in."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"deploy-desk: the config is not JSON: {e}")
    if not isinstance(config, dict) or config.get("auth") != "oidc":
        raise SystemExit('deploy-desk: the config must say "auth": "oidc" (on AWS the desk signs in with OIDC)')
    missing = [k for k in ("api", "client_id", "authorization_endpoint", "token_endpoint", "redirect_uri") if not config.get(k)]
    if missing:
        raise SystemExit(f"deploy-desk: the config has no {', '.join(missing)} (with JwtIssuer, give JwtAudience, "
                         "DeskOidcAuthorizeUrl and DeskOidcTokenUrl too)")
    for key in ("api", "authorization_endpoint", "token_endpoint", "redirect_uri"):
        if not config[key].startswith("https://"):
            raise SystemExit(f"deploy-desk: the config's {key} is not an https:// URL")
    return config


def stack_outputs(session, stack):
    stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def default_stack():
    with open(ROOT / "samconfig.toml", "rb") as f:
        return tomllib.load(f)["default"]["global"]["parameters"]["stack_name"]


def deploy(session, bucket, config, distribution=None, log=print):
    s3 = session.client("s3")
    files = desk_files()
    # Modules and styles before the page that loads them.
    for key, path, content_type in sorted(files, key=lambda f: f[0] == "index.html"):
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type, CacheControl="no-cache")
    s3.put_object(Bucket=bucket, Key=CONFIG_KEY, Body=(json.dumps(config, indent=2) + "\n").encode(),
                  ContentType=TYPES[".json"], CacheControl="no-cache")
    wanted = {key for key, _, _ in files} | {CONFIG_KEY}
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in wanted]
    for i in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[i:i + 1000]], "Quiet": True})
    log(f"deploy-desk: {len(wanted)} files in s3://{bucket} ({len(stale)} old ones removed); "
        f"sign-in at {config['authorization_endpoint']}")
    if distribution:
        invalidation = session.client("cloudfront").create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"deploy-desk-{time.time_ns()}"},
        )["Invalidation"]
        log(f"deploy-desk: invalidated /* on {distribution} ({invalidation['Id']})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/deploy-desk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="the SAM stack (default: samconfig.toml's stack_name); its outputs say where and what")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    parser.add_argument("--bucket", help="without a stack: the bucket to put the desk in")
    parser.add_argument("--config", help="without a stack: a file with the desk's config.json (\"auth\": \"oidc\", …)")
    parser.add_argument("--distribution", help="without a stack: the CloudFront distribution to invalidate")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.session.Session(region_name=args.region)
    if args.bucket or args.config:
        if not (args.bucket and args.config) or args.stack:
            parser.error("--bucket and --config go together, without --stack")
        bucket, config, distribution, url = args.bucket, Path(args.config).read_text(), args.distribution, None
    else:
        stack = args.stack or default_stack()
        outputs = stack_outputs(session, stack)
        missing = [k for k in ("DeskBucketName", "DeskConfig") if k not in outputs]
        if missing:
            raise SystemExit(f"deploy-desk: the stack {stack} has no output {', '.join(missing)}: deploy infra/template.yaml first")
        bucket, config, distribution, url = (outputs["DeskBucketName"], outputs["DeskConfig"],
                                             outputs.get("DeskDistributionId"), outputs.get("DeskUrl"))
    deploy(session, bucket, checked_config(config), distribution)
    if url:
        print(f"deploy-desk: open {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
