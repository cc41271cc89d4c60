#!/usr/bin/env bash
# Runs kiln as N MPI ranks on this node with Open MPI's mpirun: one rank per GPU (or per CPU share
# for CPU runs and tests).
#
#   launch/mpirun.sh -n 8 -- train configs/stablelm-2-1_6b.yml --set parallel.tensor=2 --set parallel.data=4
#   launch/mpirun.sh -n 2 -- version
#   launch/mpirun.sh -n 16 --hostfile launch/hostfile -- train configs/x.yml --set parallel.data=16
#
# Everything after `--` is kiln's command line. Before it:
#   -n N            number of ranks (required); tp × dp in the config must equal N
#   --dry-run       print the mpirun command and exit
#   anything else   passed to mpirun as it is (--hostfile FILE, --mca KEY VALUE, -x VAR, ...)
#
# Environment (see docs/launching.md):
#   KILN_BUILD_DIR              build folder holding the kiln binary (default: build)
#   OMP_NUM_THREADS             CPU threads per rank (default: this node's cores / ranks, at least 1)
#   CUDA_DEVICE_MAX_CONNECTIONS set to 1 unless set: one hardware queue per GPU, so kernels start in
#                               issue order and a communication kernel queued early is not stuck
#                               behind compute; what overlapping TP/DP collectives relies on
#   NCCL_DEBUG, NCCL_*          passed to every rank when set (NCCL_DEBUG=INFO to see the topology)
#
# Ranks are not bound to cores (--bind-to none): each rank runs its own OpenMP team, and binding
# every rank to one core would squeeze that team onto it. GPU selection is by local rank
# (OMPI_COMM_WORLD_LOCAL_RANK), so CUDA_VISIBLE_DEVICES is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

ranks=""
dry_run=0
mpi_args=()
while (($#)); do
  case "$1" in
    -n | -np)
      (($# >= 2)) || usage
      ranks="$2"
      shift 2
      ;;
    --dry-run)
      dry_run=1
      shift
      ;;
    --)
      shift
      break
      ;;
    -h | --help) usage ;;
    *)
      mpi_args+=("$1")
      shift
      ;;
  esac
done
(($# > 0)) || { echo "mpirun.sh: no kiln command after --" >&2; usage; }
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "mpirun.sh: -n needs a positive rank count" >&2; usage; }

kiln="${KILN_BUILD_DIR:-build}/kiln"
[ -x "$kiln" ] || { echo "mpirun.sh: no kiln binary at $kiln (build it, or set KILN_BUILD_DIR)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpirun.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 2; }

cores="$(nproc)"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$((cores / ranks > 0 ? cores / ranks : 1))}"
export CUDA_DEVICE_MAX_CONNECTIONS="${CUDA_DEVICE_MAX_CONNECTIONS:-1}"
export KILN_BUILD_DIR="${KILN_BUILD_DIR:-build}"

# Open MPI refuses more ranks than slots (cores) unless told; a hostfile brings its own slots.
launch=(mpirun -n "$ranks" --bind-to none --map-by slot)
host_given=0
for a in "${mpi_args[@]}"; do
  case "$a" in --hostfile | -hostfile | --machinefile | -machinefile | --host | -host | -H) host_given=1 ;; esac
done
((host_given || ranks <= cores)) || launch+=(--oversubscribe)
# Containers often run as root, which Open MPI refuses without this flag.
[ "$(id -u)" -ne 0 ] || launch+=(--allow-run-as-root)

# mpirun forwards its own environment to local ranks only; -x also reaches ranks on other hosts.
for var in OMP_NUM_THREADS CUDA_DEVICE_MAX_CONNECTIONS KILN_BUILD_DIR $(compgen -e | grep '^NCCL_' || true); do
  launch+=(-x "$var")
done
launch+=("${mpi_args[@]}" "$kiln" "$@")

if ((dry_run)); then
  printf '%q ' "${launch[@]}"
  echo
  exit 0
fi
exec "${launch[@]}"
