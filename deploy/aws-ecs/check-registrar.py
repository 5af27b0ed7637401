"""Runs the stack's TargetRegistrar Lambda (inline in template.yaml) against fake ECS and ELB
clients: registers running tasks, ignores pending ones, removes stopped ones, re-registers a
draining one that runs again, and changes nothing when the groups are already right.

    python deploy/aws-ecs/check-registrar.py      (needs cfn-lint installed; .ci/lint-deploy runs it)
"""

import contextlib
import io
import os
import sys
import types
from pathlib import Path

from cfnlint.decode import decode

TEMPLATE = Path(__file__).with_name("template.yaml")


class FakeEcs:
    def __init__(self, tasks):
        # tasks: {service: [(task_arn, last_status, ip)]}
        self.tasks = tasks

    def list_tasks(self, cluster, serviceName, desiredStatus):
        assert cluster == "spate-ha" and desiredStatus == "RUNNING"
        return {"taskArns": [arn for arn, _, _ in self.tasks.get(serviceName, [])]}

    def describe_tasks(self, cluster, tasks):
        known = {arn: (status, ip) for ts in self.tasks.values() for arn, status, ip in ts}
        details = lambda ip: [  # noqa: E731
            {"name": "subnetId", "value": "subnet-1"},
            {"name": "privateIPv4Address", "value": ip},
        ]
        return {
            "tasks": [
                {"lastStatus": known[arn][0], "attachments": [{"details": details(known[arn][1])}]}
                for arn in tasks
            ]
        }


class FakeElb:
    def __init__(self, targets):
        # targets: {group: {ip: state}}
        self.targets = targets
        self.calls = []

    def describe_target_health(self, TargetGroupArn):
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": ip}, "TargetHealth": {"State": state}}
                for ip, state in self.targets[TargetGroupArn].items()
            ]
        }

    def register_targets(self, TargetGroupArn, Targets):
        self.calls.append(("register", TargetGroupArn, [t["Id"] for t in Targets]))

    def deregister_targets(self, TargetGroupArn, Targets):
        self.calls.append(("deregister", TargetGroupArn, [t["Id"] for t in Targets]))


def registrar(ecs, elb):
    """The Lambda's module, loaded from the template with the fakes as its boto3 clients."""
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    code = template["Resources"]["TargetRegistrar"]["Properties"]["Code"]["ZipFile"]
    fake_boto3 = types.ModuleType("boto3")
    fake_boto3.client = lambda name: {"ecs": ecs, "elbv2": elb}[name]
    sys.modules["boto3"] = fake_boto3
    module = types.ModuleType("index")
    exec(compile(code, "template.yaml:TargetRegistrar", "exec"), module.__dict__)
    return module


def run(tasks, targets):
    os.environ.update(
        CLUSTER="spate-ha",
        SERVICES="spate-ha-node-1,spate-ha-node-2",
        TARGET_GROUPS=",".join(targets),
    )
    elb = FakeElb(targets)
    with contextlib.redirect_stdout(io.StringIO()):  # the Lambda logs a line per group
        registrar(FakeEcs(tasks), elb).handler({}, None)
    return elb.calls


def reconciles():
    calls = run(
        {
            "spate-ha-node-1": [("t1", "RUNNING", "10.0.0.1")],
            "spate-ha-node-2": [("t2", "RUNNING", "10.0.0.2"), ("t3", "PENDING", "10.0.0.3")],
        },
        {
            "source": {"10.0.0.1": "healthy", "10.0.0.9": "unhealthy"},
            "api": {"10.0.0.2": "draining"},
        },
    )
    assert calls == [
        ("register", "source", ["10.0.0.2"]),
        ("deregister", "source", ["10.0.0.9"]),
        ("register", "api", ["10.0.0.1", "10.0.0.2"]),
    ], calls


def idle_when_in_step():
    calls = run(
        {"spate-ha-node-1": [("t1", "RUNNING", "10.0.0.1")], "spate-ha-node-2": []},
        {"source": {"10.0.0.1": "healthy"}, "api": {"10.0.0.1": "unhealthy"}},
    )
    assert calls == [], calls


if __name__ == "__main__":
    passed = failed = 0
    for check in (reconciles, idle_when_in_step):
        try:
            check()
            passed += 1
        except AssertionError as e:
            failed += 1
            print(f"FAILED {check.__name__}: {e}")
    print(f"registrar: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
