# Writes a "compiled extension" into its own folder (allowed) and imports it (not allowed).
import sysconfig

name = "evil" + sysconfig.get_config_var("EXT_SUFFIX")
with open(name, "wb") as handle:
    handle.write(b"\x7fELF" + b"\0" * 64)
import evil  # noqa: E402,F401
