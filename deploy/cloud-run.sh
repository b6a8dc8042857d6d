#!/usr/bin/env bash
# Builds the Sapphire image and deploys it to Google Cloud Run, secrets from Secret Manager.
# --dry-run prints the exact commands and runs nothing. See docs/deploy.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_SECRETS="ASTER_API_KEY,ASTER_SECRET_KEY,ASTER_SIGNER_PRIVATE_KEY,ADMIN_API_TOKEN,TELEGRAM_BOT_TOKEN"
KNOWN_SECRETS=" ASTER_API_KEY ASTER_SECRET_KEY ASTER_SIGNER_PRIVATE_KEY ADMIN_API_TOKEN TELEGRAM_BOT_TOKEN FINGPT_API_KEY FINGPT_HEADERS LAGLLAMA_API_KEY ARCHIVE_KEY "
# Cloud Run sets these itself; HOST is fixed to 0.0.0.0 by the image
RESERVED_ENV=" PORT K_SERVICE K_REVISION K_CONFIGURATION HOST "

usage() {
  cat <<'USAGE'
usage: deploy/cloud-run.sh --project ID --region REGION [options]

Builds the image (Cloud Build, or local docker build + push), then `gcloud run deploy`s it as one
always-on instance (a trading loop must not scale out or sleep). Secrets are mounted from Secret
Manager as environment variables (--set-secrets NAME=SECRET:latest); nothing secret is passed on
the command line.

required:
  --project ID            Google Cloud project id
  --region REGION         Cloud Run region, e.g. europe-west1

options:
  --service NAME          Cloud Run service (default sapphire)
  --repository REPO       Artifact Registry docker repository (default sapphire)
  --tag TAG               image tag (default: the git commit, short)
  --image IMAGE           deploy this image instead of REGION-docker.pkg.dev/ID/REPO/SERVICE:TAG
  --builder B             cloud-build (default) or docker
  --no-build              skip the build, deploy an existing image
  --mode M                paper (default) or live; live needs ADMIN_API_TOKEN among the secrets
  --secrets LIST          comma list of secret settings to mount, each NAME or NAME=SECRET[:VERSION]
                          (default ASTER_API_KEY,ASTER_SECRET_KEY,ASTER_SIGNER_PRIVATE_KEY,
                          ADMIN_API_TOKEN,TELEGRAM_BOT_TOKEN; "none" mounts nothing)
  --env NAME=VALUE        a setting (repeatable), e.g. --env SYMBOLS=BTCUSDT,ETHUSDT
  --service-account SA    runtime service account (needs roles/secretmanager.secretAccessor)
  --cpu N                 vCPUs (default 1)          --memory M   memory (default 1Gi)
  --public                allow unauthenticated HTTP (the dashboard; admin routes still need the token)
  --dry-run               print the commands, run nothing
  -h, --help              this text
USAGE
}

fail() {
  echo "cloud-run.sh: $*" >&2
  echo "run deploy/cloud-run.sh --help for the options" >&2
  exit 2
}

# shell-quotes one word only when it needs it, so printed commands can be pasted as they are
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=,@%+^-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

DRY_RUN=0
run() {
  local line="" word
  for word in "$@"; do line+="${line:+ }$(quote "$word")"; done
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '%s\n' "$line"
  else
    printf '+ %s\n' "$line" >&2
    "$@"
  fi
}

PROJECT="" REGION="" SERVICE="sapphire" REPOSITORY="sapphire" TAG="" IMAGE="" BUILDER="cloud-build" BUILD=1
MODE="paper" SECRETS="$DEFAULT_SECRETS" SERVICE_ACCOUNT="" CPU="1" MEMORY="1Gi" PUBLIC=0
ENV_VARS=()

need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || fail "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) need_value "$@"; PROJECT="$2"; shift 2 ;;
    --region) need_value "$@"; REGION="$2"; shift 2 ;;
    --service) need_value "$@"; SERVICE="$2"; shift 2 ;;
    --repository) need_value "$@"; REPOSITORY="$2"; shift 2 ;;
    --tag) need_value "$@"; TAG="$2"; shift 2 ;;
    --image) need_value "$@"; IMAGE="$2"; shift 2 ;;
    --builder) need_value "$@"; BUILDER="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --mode) need_value "$@"; MODE="$2"; shift 2 ;;
    --secrets) need_value "$@"; SECRETS="$2"; shift 2 ;;
    --env) need_value "$@"; ENV_VARS+=("$2"); shift 2 ;;
    --service-account) need_value "$@"; SERVICE_ACCOUNT="$2"; shift 2 ;;
    --cpu) need_value "$@"; CPU="$2"; shift 2 ;;
    --memory) need_value "$@"; MEMORY="$2"; shift 2 ;;
    --public) PUBLIC=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) fail "unknown argument '$1'" ;;
  esac
done

[[ -n "$PROJECT" ]] || fail "--project is required"
[[ -n "$REGION" ]] || fail "--region is required"
[[ "$PROJECT" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || fail "--project '$PROJECT' is not a project id"
[[ "$REGION" =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || fail "--region '$REGION' is not a region (e.g. europe-west1)"
[[ "$SERVICE" =~ ^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$ ]] || fail "--service '$SERVICE' is not a Cloud Run service name"
[[ "$REPOSITORY" =~ ^[a-z]([a-z0-9-]*[a-z0-9])?$ ]] || fail "--repository '$REPOSITORY' is not a repository name"
[[ "$BUILDER" == cloud-build || "$BUILDER" == docker ]] || fail "--builder must be cloud-build or docker, got '$BUILDER'"
[[ "$MODE" == paper || "$MODE" == live ]] || fail "--mode must be paper or live, got '$MODE'"
[[ "$CPU" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "--cpu '$CPU' is not a number"
[[ "$MEMORY" =~ ^[0-9]+(Mi|Gi)$ ]] || fail "--memory '$MEMORY' must look like 512Mi or 1Gi"
if [[ -n "$SERVICE_ACCOUNT" && ! "$SERVICE_ACCOUNT" =~ ^[a-z0-9-]+@[a-z0-9.-]+\.iam\.gserviceaccount\.com$ ]]; then
  fail "--service-account '$SERVICE_ACCOUNT' is not a service account email"
fi

if [[ -z "$IMAGE" ]]; then
  if [[ -z "$TAG" ]]; then
    TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)"
    [[ -n "$TAG" ]] || fail "no git commit to tag the image with: pass --tag"
  fi
  [[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || fail "--tag '$TAG' is not a docker tag"
  IMAGE="${REGION}-docker.pkg.dev/${PROJECT}/${REPOSITORY}/${SERVICE}:${TAG}"
else
  [[ -z "$TAG" ]] || fail "--tag and --image exclude each other"
  [[ "$IMAGE" =~ ^[a-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._/-]+(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$ ]] ||
    fail "--image '$IMAGE' is not an image reference with a tag or digest"
fi

# secrets: NAME or NAME=SECRET[:VERSION] → NAME=SECRET:VERSION
SECRET_PAIRS=()
MOUNTED=" "
if [[ "$SECRETS" != none ]]; then
  IFS=',' read -r -a items <<<"$SECRETS"
  for item in "${items[@]}"; do
    [[ -n "$item" ]] || fail "--secrets has an empty item"
    name="${item%%=*}"
    ref="$name"
    [[ "$item" == *=* ]] && ref="${item#*=}"
    [[ "$KNOWN_SECRETS" == *" $name "* ]] || fail "--secrets: $name is not a secret setting (one of:${KNOWN_SECRETS% })"
    [[ "$MOUNTED" != *" $name "* ]] || fail "--secrets: $name is listed twice"
    [[ "$ref" =~ ^[A-Za-z0-9_-]{1,255}(:(latest|[0-9]+))?$ ]] || fail "--secrets: '$ref' is not SECRET or SECRET:VERSION"
    [[ "$ref" == *:* ]] || ref="${ref}:latest"
    SECRET_PAIRS+=("${name}=${ref}")
    MOUNTED+="$name "
  done
fi
if [[ "$MODE" == live && "$MOUNTED" != *" ADMIN_API_TOKEN "* ]]; then
  fail "--mode live needs ADMIN_API_TOKEN among --secrets (live trading is refused without it)"
fi

# settings: mode first, then --env in the order given (a later one wins in the app too)
ENV_PAIRS=("TRADING_MODE=$MODE")
if [[ "$MODE" == live ]]; then ENV_PAIRS+=("ENABLE_PAPER_TRADING=false"); fi
for pair in ${ENV_VARS[@]+"${ENV_VARS[@]}"}; do
  [[ "$pair" =~ ^[A-Z][A-Z0-9_]*= ]] || fail "--env '$pair' is not NAME=VALUE"
  name="${pair%%=*}"
  [[ "$KNOWN_SECRETS" != *" $name "* ]] || fail "--env $name is a secret: store it in Secret Manager and list it in --secrets"
  [[ "$RESERVED_ENV" != *" $name "* ]] || fail "--env $name is set by Cloud Run or the image, not by --env"
  [[ "$name" != TRADING_MODE && "$name" != ENABLE_PAPER_TRADING ]] || fail "--env $name: use --mode"
  ENV_PAIRS+=("$pair")
done

# gcloud splits --set-env-vars on commas; with a comma in a value use its ^;^ delimiter syntax
join_env() {
  local sep="," out="" pair
  for pair in "${ENV_PAIRS[@]}"; do
    if [[ "$pair" == *,* ]]; then sep=";"; fi
  done
  if [[ "$sep" == ";" ]]; then
    for pair in "${ENV_PAIRS[@]}"; do
      [[ "$pair" != *";"* ]] || fail "--env '${pair%%=*}': a value may not hold both ',' and ';'"
    done
  fi
  for pair in "${ENV_PAIRS[@]}"; do out+="${out:+$sep}$pair"; done
  [[ "$sep" == "," ]] && printf '%s' "$out" || printf '^;^%s' "$out"
}
ENV_ARG="$(join_env)"

cd "$ROOT"
if [[ "$BUILD" == 1 ]]; then
  if [[ "$BUILDER" == cloud-build ]]; then
    run gcloud builds submit "--project=$PROJECT" "--tag=$IMAGE" "$ROOT"
  else
    run gcloud auth configure-docker "${IMAGE%%/*}" --quiet
    run docker build --tag "$IMAGE" "$ROOT"
    run docker push "$IMAGE"
  fi
fi

DEPLOY=(gcloud run deploy "$SERVICE" "--project=$PROJECT" "--region=$REGION" "--image=$IMAGE"
  --port=8080 "--cpu=$CPU" "--memory=$MEMORY" --min-instances=1 --max-instances=1 --no-cpu-throttling
  "--startup-probe=httpGet.path=/healthz,httpGet.port=8080,periodSeconds=5,failureThreshold=24"
  "--liveness-probe=httpGet.path=/healthz,httpGet.port=8080,periodSeconds=30,failureThreshold=3"
  "--set-env-vars=$ENV_ARG")
if [[ ${#SECRET_PAIRS[@]} -gt 0 ]]; then
  joined="$(IFS=,; printf '%s' "${SECRET_PAIRS[*]}")"
  DEPLOY+=("--set-secrets=$joined")
else
  DEPLOY+=(--clear-secrets)
fi
if [[ -n "$SERVICE_ACCOUNT" ]]; then DEPLOY+=("--service-account=$SERVICE_ACCOUNT"); fi
if [[ "$PUBLIC" == 1 ]]; then DEPLOY+=(--allow-unauthenticated); else DEPLOY+=(--no-allow-unauthenticated); fi
DEPLOY+=(--quiet)
run "${DEPLOY[@]}"
