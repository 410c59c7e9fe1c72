/// The release, shown by `--version` and written into generated files.
public let version = "0.1.0"
