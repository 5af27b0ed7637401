#!/usr/bin/env bash
# Deploys the Spate minimum HA cluster to AWS ECS Fargate with the AWS CLI (v2) and Docker.
#
#   deploy/aws-ecs/deploy.sh [deploy]   build the image, push it to the stack's ECR repository,
#                                       create or update the stack (template.yaml beside this)
#   deploy/aws-ecs/deploy.sh status     the nodes, and which one the load balancer sends to
#   deploy/aws-ecs/deploy.sh teardown   delete the stack (the database leaves a final snapshot)
#
# Environment:
#   STACK_NAME   stack name, lower case (default spate-ha); also names the cluster and services
#   AWS_REGION   region (default: the AWS CLI's configured region)
#   PARAMS       extra template parameters, e.g. "LoadBalancerScheme=internet-facing
#                ClientCidr=203.0.113.0/24 DbEngine=mysql"; later runs keep earlier values
#   IMAGE_TAG    deploy this tag instead of building one (it must be in the repository)
#   APPS         the folder of .siddhi apps baked into the image, relative to the repository
#                (default deploy/compose/siddhi-files, the sample)
#
# The first deploy creates the stack with no tasks (the repository must exist before an image
# can be pushed), then pushes the image and starts one task per node. It takes 15-20 minutes,
# most of it the database.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
template="$here/template.yaml"
stack=${STACK_NAME:-spate-ha}
read -r -a extra_params <<<"${PARAMS:-}"

die() { echo "deploy.sh: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is needed: $2"
}

region() {
    local r=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
    [ -n "$r" ] || r=$(aws configure get region || true)
    [ -n "$r" ] || die "no region: set AWS_REGION or run 'aws configure'"
    echo "$r"
}

stack_exists() {
    aws cloudformation describe-stacks --stack-name "$stack" >/dev/null 2>&1
}

output() {
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# deploy_stack KEY=VALUE...: create or update the stack with these parameter values.
deploy_stack() {
    aws cloudformation deploy \
        --stack-name "$stack" \
        --template-file "$template" \
        --capabilities CAPABILITY_IAM \
        --no-fail-on-empty-changeset \
        --parameter-overrides "$@" "${extra_params[@]}"
}

# The tag names the commit; a working tree with changes gets a unique suffix, since the
# repository's tags are immutable.
image_tag() {
    local tag
    tag=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo build)
    if [ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]; then
        tag="$tag-dirty-$(date -u +%Y%m%d%H%M%S)"
    fi
    echo "$tag"
}

cmd_deploy() {
    need aws "https://docs.aws.amazon.com/cli/latest/userguide/install-cliv2.html"
    [[ $stack =~ ^[a-z][a-z0-9-]*$ ]] || die "STACK_NAME must be lower case letters, digits and '-' (it names the ECR repository)"
    export AWS_REGION
    AWS_REGION=$(region)
    aws sts get-caller-identity --query Account --output text >/dev/null ||
        die "the AWS CLI has no working credentials (aws configure, or AWS_PROFILE)"

    if ! stack_exists; then
        say "creating stack $stack in $AWS_REGION without tasks (the database takes a while)"
        deploy_stack DesiredCount=0
    fi
    local repo registry tag
    repo=$(output RepositoryUri)
    registry=${repo%%/*}
    tag=${IMAGE_TAG:-}

    if [ -z "$tag" ]; then
        need docker "https://docs.docker.com/engine/install/"
        tag=$(image_tag)
        if aws ecr describe-images --repository-name "${repo#*/}" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
            say "image $repo:$tag is already pushed"
        else
            say "building $repo:$tag"
            docker build --platform linux/amd64 -f "$root/deploy/docker/Dockerfile" \
                --build-arg "APPS=${APPS:-deploy/compose/siddhi-files}" -t "$repo:$tag" "$root"
            say "pushing to $registry"
            aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
            docker push "$repo:$tag"
        fi
    fi

    say "deploying $tag: one task per node"
    deploy_stack DesiredCount=1 "ImageTag=$tag"
    cmd_status
}

cmd_status() {
    export AWS_REGION
    AWS_REGION=$(region)
    stack_exists || die "no stack $stack in $AWS_REGION"
    local cluster services group
    cluster=$(output ClusterName)
    services=$(output NodeServices)
    group=$(output SourceTargetGroupArn)
    say "nodes"
    # shellcheck disable=SC2086 # two service names, split on the comma
    aws ecs describe-services --cluster "$cluster" --services ${services//,/ } \
        --query 'services[].{service:serviceName,running:runningCount,desired:desiredCount,rollout:deployments[0].rolloutState}' \
        --output table
    say "load balancer targets (the healthy one is the active node)"
    aws elbv2 describe-target-health --target-group-arn "$group" \
        --query 'TargetHealthDescriptions[].{ip:Target.Id,state:TargetHealth.State,reason:TargetHealth.Reason}' \
        --output table
    cat <<EOF

Send events:   curl -H 'Content-Type: application/json' \\
                 -d '{"event":{"name":"toffee","amount":1.0}}' http://$(output LoadBalancerDns):8006/sweetProduction
Active node:   curl http://$(output LoadBalancerDns):9090/siddhi-apps/ha/is-active-node
Node logs:     aws logs tail $(output NodeLogGroup) --follow
Fail over:     aws ecs stop-task --cluster $cluster --task <task of the active node>
(The load balancer is internal unless LoadBalancerScheme=internet-facing; reach it from the VPC.)
EOF
}

cmd_teardown() {
    export AWS_REGION
    AWS_REGION=$(region)
    stack_exists || die "no stack $stack in $AWS_REGION"
    say "deleting stack $stack (images go with the repository; the database leaves a final snapshot)"
    aws cloudformation delete-stack --stack-name "$stack"
    aws cloudformation wait stack-delete-complete --stack-name "$stack"
    echo "deleted. Final DB snapshots: aws rds describe-db-snapshots --snapshot-type manual"
}

case "${1:-deploy}" in
    deploy) cmd_deploy ;;
    status) cmd_status ;;
    teardown) cmd_teardown ;;
    -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
    *) die "unknown command '$1' (deploy, status, teardown)" ;;
esac
