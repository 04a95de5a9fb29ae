namespace Sluice.Engine.Tests.Support;

/// <summary>
/// Locates the shared conformance data (synthetic models and llama.cpp goldens). It lives beside the
/// repository at ../shared/conformance, or wherever SLUICE_CONFORMANCE points. Under CI=true its
/// absence fails the test; elsewhere the test is skipped with the reason.
/// </summary>
public static class Conformance
{
    private static readonly Lazy<string?> Root = new(Find);

    /// <summary>The conformance folder, or skips/fails the calling test when it is missing.</summary>
    public static string Dir
    {
        get
        {
            var root = Root.Value;
            if (root != null)
            {
                return root;
            }
            const string Why = "conformance data not found: set SLUICE_CONFORMANCE or place it at ../shared/conformance beside the repository";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(Why + " (required under CI=true)");
            }
            throw new SkipException(Why);
        }
    }

    public static string Model(string file) => Path.Combine(Dir, "models", file);

    public static string Tokenizer(string file) => Path.Combine(Dir, "tokenizer", file);

    public static string Golden(string file, bool f32Kv = false) => Path.Combine(Dir, f32Kv ? "golden_f32kv" : "golden", file);

    /// <summary>The repository root (the folder holding Sluice.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Sluice.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("repository root (Sluice.sln) not found above " + AppContext.BaseDirectory);
        }
    }

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("SLUICE_CONFORMANCE");
        if (!string.IsNullOrEmpty(env))
        {
            return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        }
        var candidate = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "conformance"));
        return Directory.Exists(candidate) ? candidate : null;
    }
}
