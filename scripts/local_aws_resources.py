"""Creates in a moto server what the functions use: the table (read from infra/template.yaml, which
tests/tests/infra_template.rs keeps equal to the storage adapter's definition), the three queues
with the names the `[workspace.metadata.lambda.env]` settings in Cargo.toml use, and the timers'
schedule group. Idempotent: what exists is left as it is.

Usage: python scripts/local_aws_resources.py ENDPOINT [STACK]   (STACK defaults to switchboard)
"""

import sys
from pathlib import Path

import boto3
import yaml


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !GetAtt…) as plain values."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


TemplateLoader.add_multi_constructor("!", _any_tag)


def main() -> None:
    endpoint = sys.argv[1]
    stack = sys.argv[2] if len(sys.argv) > 2 else "switchboard"
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    template = Path(__file__).resolve().parent.parent / "infra" / "template.yaml"
    table = yaml.load(template.read_text(), Loader=TemplateLoader)["Resources"]["Table"]["Properties"]

    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    if stack not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=stack,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
        dynamodb.update_time_to_live(
            TableName=stack, TimeToLiveSpecification=table["TimeToLiveSpecification"]
        )

    sqs = session.client("sqs", endpoint_url=endpoint)
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    for name, attributes in [
        (f"{stack}-inbound.fifo", fifo),
        (f"{stack}-updates", {}),
        (f"{stack}-outbound", {}),
    ]:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        print(f"queue {url}")

    scheduler = session.client("scheduler", endpoint_url=endpoint)
    group = f"{stack}-timers"
    groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    if group not in groups:
        scheduler.create_schedule_group(Name=group)
    print(f"table {stack}, schedule group {group}")


if __name__ == "__main__":
    main()
