using System.Text.RegularExpressions;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// deploy/docker/Dockerfile, checked as a file: multi-stage, non-root, /models, a health check on a real route
/// (ManifestTests asks a server), the CMD's flags real. ImageTests builds and runs it where a Docker daemon is.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string Dockerfile = RepoFiles.Read("deploy/docker/Dockerfile");

    [Fact]
    public void Dockerfile_BuildsInOneStageAndRunsInASmallNonRootOne()
    {
        var stages = Regex.Matches(Dockerfile, @"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", RegexOptions.Multiline | RegexOptions.IgnoreCase);
        Assert.Equal(2, stages.Count);
        Assert.Equal("${SDK_IMAGE}", stages[0].Groups[1].Value);
        Assert.Equal("${RUNTIME_IMAGE}", stages[1].Groups[1].Value);
        Assert.Contains("ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0", Dockerfile);
        string runtime = Dockerfile[stages[1].Index..];
        var user = Regex.Match(runtime, @"^USER\s+(\S+)", RegexOptions.Multiline);
        Assert.True(user.Success, "the runtime stage sets no USER");
        Assert.DoesNotMatch(@"^(root|0)(:|$)", user.Groups[1].Value);
        Assert.Contains("COPY --from=build /app ./", runtime);
        Assert.Matches(@"VOLUME \[""/models""\]", runtime);
    }

    [Fact]
    public void Dockerfile_CmdUsesRealServeFlagsOnAnExposedPort()
    {
        var cmd = Regex.Match(Dockerfile, @"^CMD\s+(\[.*\])", RegexOptions.Multiline);
        var args = System.Text.Json.JsonSerializer.Deserialize<string[]>(cmd.Groups[1].Value)!;
        Assert.Equal("serve", args[0]);
        Assert.Empty(DeployChecks.UnknownFlags(args, "CMD"));
        string port = args[Array.IndexOf(args, "--port") + 1];
        Assert.Matches($@"^EXPOSE .*\b{port}\b", Regex.Match(Dockerfile, "^EXPOSE.*$", RegexOptions.Multiline).Value);
        Assert.All(HealthcheckPaths(Dockerfile), p => Assert.StartsWith("/health/", p));
        Assert.Contains($"/dev/tcp/127.0.0.1/{port}", Dockerfile);
    }

    [Fact]
    public void Dockerignore_SendsOnlyWhatTheBuildCopies()
    {
        string ignore = RepoFiles.Read("deploy/docker/Dockerfile.dockerignore");
        foreach (Match copy in Regex.Matches(Dockerfile, @"^COPY (?!--from)(.+) \S+$", RegexOptions.Multiline))
        {
            foreach (var source in copy.Groups[1].Value.Split(' '))
            {
                string top = source.TrimEnd('/').Split('/')[0];
                Assert.True(ignore.Contains("!" + top, StringComparison.Ordinal), $"COPY {source} but the ignore file excludes {top}");
            }
        }
    }

    /// <summary>The paths a HEALTHCHECK requests.</summary>
    internal static IEnumerable<string> HealthcheckPaths(string text) =>
        Regex.Matches(text, @"GET (/[^\s]+) HTTP").Select(m => m.Groups[1].Value);
}
