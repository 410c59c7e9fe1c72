/// How this binary was built.
public enum Build {
    /// True for the binary scripts/build-release makes, which compiles with -DRELEASE_BUILD:
    /// it is linked against glibc 2.31 so that it starts on every supported node. Any
    /// other build links against the build machine's glibc.
    #if RELEASE_BUILD
        public static let isRelease = true
    #else
        public static let isRelease = false
    #endif

    /// What `install` and `hook` say when they copy a binary that is not a release build.
    public static let developmentNote =
        "installing a development build of harvester-sriov (not from scripts/build-release): "
        + "it may not start on the node's glibc"
}
