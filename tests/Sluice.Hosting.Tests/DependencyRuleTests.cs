using System.Xml.Linq;

namespace Sluice.Hosting.Tests;

/// <summary>
/// The projects' dependency rule, read from the .csproj files: Engine &lt;- Server; OpenAi &lt;- Hosting &lt;- {Server,
/// Gateway}; Cli -&gt; all. The gateway never sees the engine: it speaks HTTP to any OpenAI-compatible backend.
/// </summary>
public sealed class DependencyRuleTests
{
    /// <summary>What each project under src/ may reference; the CLI (null) references what it likes.</summary>
    private static readonly Dictionary<string, string[]?> Allowed = new(StringComparer.Ordinal)
    {
        ["Sluice.Engine"] = [],
        ["Sluice.OpenAi"] = [],
        ["Sluice.Hosting"] = ["Sluice.OpenAi"],
        ["Sluice.Server"] = ["Sluice.Engine", "Sluice.Hosting", "Sluice.OpenAi"],
        ["Sluice.Gateway"] = ["Sluice.Hosting", "Sluice.OpenAi"],
        ["Sluice.Cli"] = null,
    };

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Sluice.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Every project of the repository: its folder (src, tests, bench), name, project references and framework references.</summary>
    private static List<(string Area, string Name, string[] References, string[] Frameworks)> Projects()
    {
        string root = RepoRoot();
        return [.. new[] { "src", "tests", "bench" }
            .Where(area => Directory.Exists(Path.Combine(root, area)))
            .SelectMany(area => Directory.EnumerateFiles(Path.Combine(root, area), "*.csproj", SearchOption.AllDirectories)
                .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .Select(p =>
                {
                    var xml = XDocument.Load(p);
                    string[] Items(string kind) => [.. xml.Descendants(kind).Select(e => (string?)e.Attribute("Include") ?? "")];
                    return (area, Path.GetFileNameWithoutExtension(p),
                        Items("ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Replace('\\', '/'))).Order(StringComparer.Ordinal).ToArray(),
                        Items("FrameworkReference"));
                }))];
    }

    [Fact]
    public void ProjectReferences_OfEachSourceProject_StayWithinTheRule()
    {
        var sources = Projects().Where(p => p.Area == "src").ToList();
        Assert.Contains(sources, p => p.Name == "Sluice.Hosting");
        foreach (var (_, name, references, _) in sources)
        {
            Assert.True(Allowed.TryGetValue(name, out var allowed), $"{name} is not in the dependency rule: add it to DependencyRuleTests and docs/architecture.md");
            if (allowed is null)
            {
                continue;
            }
            var extra = references.Except(allowed, StringComparer.Ordinal).ToList();
            Assert.True(extra.Count == 0, $"{name} references {string.Join(", ", extra)}; it may reference only: {string.Join(", ", allowed.DefaultIfEmpty("nothing of ours"))}");
        }
    }

    [Fact]
    public void Engine_ReferencedOnlyByTheServerTheCliTestsAndBenchmarks()
    {
        var users = Projects().Where(p => p.References.Contains("Sluice.Engine")).ToList();
        Assert.Contains(users, p => p.Name == "Sluice.Server");
        var others = users.Where(p => p.Area == "src" && p.Name is not ("Sluice.Server" or "Sluice.Cli")).Select(p => p.Name).ToList();
        Assert.True(others.Count == 0, $"only the server and the CLI may reference the engine, not {string.Join(", ", others)}");
    }

    [Fact]
    public void OpenAiAndEngine_HaveNoAspNetCore()
    {
        foreach (var p in Projects().Where(p => p.Name is "Sluice.OpenAi" or "Sluice.Engine"))
        {
            Assert.Empty(p.Frameworks);
        }
    }
}
