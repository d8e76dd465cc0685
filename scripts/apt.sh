# Sourced by the install scripts: `apt_install PACKAGE...` installs the Debian packages that
# dpkg does not list as installed (apt-get update and install run only then), as root or
# through sudo, waiting for a concurrent apt/dpkg instead of failing on its lock. The caller
# defines `log` and `die`.

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

apt_install() {
  local missing=() package sudo=()
  for package in "$@"; do
    is_installed "$package" || missing+=("$package")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt: $* already installed"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  log "apt: installing ${missing[*]}"
  local apt_opts=(-o DPkg::Lock::Timeout=900 -o Acquire::Retries=3)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}"
}
