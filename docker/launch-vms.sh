#!/usr/bin/env bash
# Launch N crawler workers on Google Compute Engine VMs (Container-Optimized OS + cloud-init), all
# pointing at one shared Redis (frontier + politeness budget) and one MongoDB. See docs/DEPLOY.md.
set -euo pipefail

PROG=$(basename "$0")
usage() {
  cat <<EOF
Usage: $PROG --image IMAGE --redis-url URL --mongo-uri URI [options]
       $PROG --delete [--workers N] [--name-prefix P] [--zone Z] [--project P]

Launch N crawler workers on Compute Engine VMs. Each VM runs Container-Optimized OS; cloud-init starts
one crawler container (docker run --shm-size=2g IMAGE animerec crawl) that joins the shared frontier
in Redis and writes to MongoDB. Adding VMs adds throughput; the request budget (--crawl-rate) is shared.

Required (launch):
  --image IMAGE          crawler image in a registry the VMs can pull (e.g. europe-docker.pkg.dev/P/r/animerec:1)
  --redis-url URL        shared Redis, reachable from the VMs (default: \$REDIS_URL)
  --mongo-uri URI        shared MongoDB, reachable from the VMs (default: \$MONGO_URI)

Options:
  --workers N            number of VMs / workers (default: 2)
  --project ID           GCP project (default: gcloud's configured project)
  --zone ZONE            zone (default: europe-west1-b)
  --machine-type TYPE    machine type (default: e2-standard-2: 2 vCPU, 8 GB; Chromium needs ~1 GB)
  --name-prefix PREFIX   VM names are PREFIX-1..N (default: animerec-crawler)
  --network NET          VPC network (default: default); Redis/Mongo must be reachable on it
  --crawl-rate R         requests/s to the site for ALL workers together (default: 0.5)
  --base-url URL         site to crawl (default: https://myanimelist.net)
  --spiders "S1 S2"      stages to run (default: all: users animelists anime)
  --preemptible          use Spot VMs (cheaper; a preempted worker's requests go back to the queue)
  --dry-run              print the gcloud commands and the cloud-init file, run nothing
  --delete               delete the VMs PREFIX-1..N instead of creating them
  -h, --help             this help

Environment: GCLOUD (default: gcloud) is the Cloud CLI to call; REDIS_URL and MONGO_URI as above.

Secrets: the Redis and Mongo URLs travel in the VM metadata (user-data), readable by project members
with compute.instances.get. Use credentials that only allow this crawl, and private IPs / firewall rules.
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 2; }

WORKERS=2 PROJECT="" ZONE="europe-west1-b" MACHINE_TYPE="e2-standard-2" PREFIX="animerec-crawler"
NETWORK="default" CRAWL_RATE="0.5" BASE_URL="https://myanimelist.net" SPIDERS="" IMAGE=""
REDIS="${REDIS_URL:-}" MONGO="${MONGO_URI:-}" DRY_RUN=0 DELETE=0 PREEMPTIBLE=0

need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --workers) need_value "$@"; WORKERS=$2; shift 2 ;;
    --project) need_value "$@"; PROJECT=$2; shift 2 ;;
    --zone) need_value "$@"; ZONE=$2; shift 2 ;;
    --machine-type) need_value "$@"; MACHINE_TYPE=$2; shift 2 ;;
    --name-prefix) need_value "$@"; PREFIX=$2; shift 2 ;;
    --network) need_value "$@"; NETWORK=$2; shift 2 ;;
    --crawl-rate) need_value "$@"; CRAWL_RATE=$2; shift 2 ;;
    --base-url) need_value "$@"; BASE_URL=$2; shift 2 ;;
    --spiders) need_value "$@"; SPIDERS=$2; shift 2 ;;
    --image) need_value "$@"; IMAGE=$2; shift 2 ;;
    --redis-url) need_value "$@"; REDIS=$2; shift 2 ;;
    --mongo-uri) need_value "$@"; MONGO=$2; shift 2 ;;
    --preemptible) PREEMPTIBLE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --delete) DELETE=1; shift ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer, got '$WORKERS'"
[ "$WORKERS" -le 100 ] || die "--workers $WORKERS: more than 100 VMs is surely a typo"
[[ "$PREFIX" =~ ^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$ ]] || die "--name-prefix must be lowercase letters, digits and '-'"
names=()
for i in $(seq 1 "$WORKERS"); do names+=("$PREFIX-$i"); done
gcloud_args=(--zone "$ZONE")
[ -n "$PROJECT" ] && gcloud_args+=(--project "$PROJECT")

run() {
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
    return 0
  else
    "$@"
  fi
}

GCLOUD=${GCLOUD:-gcloud}
if [ "$DRY_RUN" -eq 0 ] && ! command -v "$GCLOUD" >/dev/null 2>&1; then
  die "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and run 'gcloud auth login', or use --dry-run"
fi

if [ "$DELETE" -eq 1 ]; then
  run "$GCLOUD" compute instances delete "${names[@]}" "${gcloud_args[@]}" --quiet
  exit 0
fi

[ -n "$IMAGE" ] || die "--image is required: the crawler image the VMs pull (build it with docker/Dockerfile and push it)"
[ -n "$REDIS" ] || die "--redis-url is required (or set REDIS_URL): the shared frontier every worker joins"
[ -n "$MONGO" ] || die "--mongo-uri is required (or set MONGO_URI): where the workers store what they crawl"
[[ "$REDIS" =~ ^rediss?:// ]] || die "--redis-url must start with redis:// or rediss://, got '$REDIS'"
[[ "$MONGO" =~ ^mongodb(\+srv)?:// ]] || die "--mongo-uri must start with mongodb:// or mongodb+srv://"
for url in "$REDIS" "$MONGO"; do
  if [[ "$url" =~ (@|//)(localhost|127\.[0-9.]+)([:/]|$) ]]; then
    die "'$url' points at the VM itself (localhost): give an address the VMs can reach"
  fi
done
[[ "$CRAWL_RATE" =~ ^[0-9]*\.?[0-9]+$ ]] || die "--crawl-rate must be a number of requests per second"

# Quote a value for the env file read by `docker run --env-file` (one KEY=VALUE per line, no quotes).
[[ "$REDIS$MONGO$BASE_URL" != *$'\n'* ]] || die "URLs must not contain newlines"

userdata=$(mktemp "${TMPDIR:-/tmp}/animerec-cloud-init.XXXXXX")
trap 'rm -f "$userdata"' EXIT
cat >"$userdata" <<EOF
#cloud-config
# Written by $PROG: one animerec crawler worker, restarted on failure, stopped cleanly on shutdown.
write_files:
  - path: /etc/animerec/crawler.env
    permissions: "0600"
    owner: root
    content: |
      REDIS_URL=$REDIS
      MONGO_URI=$MONGO
      MAL_BASE_URL=$BASE_URL
  - path: /etc/systemd/system/animerec-crawler.service
    permissions: "0644"
    owner: root
    content: |
      [Unit]
      Description=animerec crawler worker
      Wants=network-online.target
      After=network-online.target docker.service
      [Service]
      Environment=HOME=/home/animerec
      ExecStartPre=/usr/bin/docker-credential-gcr configure-docker --registries=$(echo "$IMAGE" | cut -d/ -f1)
      ExecStartPre=-/usr/bin/docker rm -f animerec-crawler
      ExecStart=/usr/bin/docker run --rm --name animerec-crawler --shm-size=2g --env-file /etc/animerec/crawler.env $IMAGE animerec crawl $SPIDERS -s BUDGET_RATE=$CRAWL_RATE
      ExecStop=/usr/bin/docker stop --time 60 animerec-crawler
      Restart=on-failure
      RestartSec=30
runcmd:
  - mkdir -p /home/animerec
  - systemctl daemon-reload
  - systemctl start animerec-crawler.service
EOF

create=("$GCLOUD" compute instances create "${names[@]}" "${gcloud_args[@]}"
  --machine-type "$MACHINE_TYPE" --network "$NETWORK"
  --image-family cos-stable --image-project cos-cloud --boot-disk-size 20GB
  --scopes cloud-platform --labels app=animerec,role=crawler
  --metadata-from-file "user-data=$userdata")
[ "$PREEMPTIBLE" -eq 1 ] && create+=(--provisioning-model SPOT --instance-termination-action DELETE)

if [ "$DRY_RUN" -eq 1 ]; then
  echo "# dry run: nothing is created. cloud-init user-data for each VM:"
  sed 's/^/#   /' "$userdata"
fi
run "${create[@]}"
[ "$DRY_RUN" -eq 1 ] && verb="would launch" || verb="launched"
echo "$verb ${#names[@]} worker VM(s): ${names[*]} (logs: gcloud compute ssh ${names[0]} -- sudo journalctl -u animerec-crawler -f)" >&2
