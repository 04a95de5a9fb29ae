using System.Diagnostics;
using System.Text.Json;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Tools;

/// <summary>
/// tools/demo-model end to end on a small slice: train.py trains a tokenizer and a tiny llama for a few
/// steps, `sluice model convert` writes it as GGUF, and verify.py checks that sluice tokenizes as the
/// trained tokenizer does and that its log-probabilities match PyTorch's. Needs Debian's python3-torch,
/// python3-regex and bible-kjv: skipped without them, failing under CI=true (test.sh installs them).
/// </summary>
public sealed class DemoModelToolTests
{
    private static readonly string[] Pythons = ["/usr/bin/python3", "python3"];

    [SkippableFact]
    public void TrainConvertVerify_SmallSlice_SluiceMatchesPyTorch()
    {
        string? python = Pythons.FirstOrDefault(p => Run(p, "-c \"import torch, regex\"", TimeSpan.FromMinutes(2)).Rc == 0);
        bool bible = Run("bible", "gen1:1", TimeSpan.FromMinutes(1)).Rc == 0;
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        Skip.If((python is null || !bible) && !ci,
            "python3-torch, python3-regex or bible-kjv is not installed (apt-get install python3-torch python3-regex bible-kjv; test.sh does under CI)");
        Assert.True(python is not null, "no python3 imports torch and regex (apt-get install python3-torch python3-regex)");
        Assert.True(bible, "the bible command is missing (apt-get install bible-kjv)");

        string tool = Path.Combine(RepoRoot(), "tools", "demo-model");
        string dir = Directory.CreateTempSubdirectory("sluice-demo-tool-").FullName;
        try
        {
            string hf = Path.Combine(dir, "hf");
            var train = Run(python, $"\"{Path.Combine(tool, "train.py")}\" --out \"{hf}\" --max-chapters 12 --steps 3 --vocab-size 400 " +
                "--hidden 64 --layers 1 --heads 2 --kv-heads 1 --ffn 128 --ctx 64 --batch 4 --log-every 1", TimeSpan.FromMinutes(5));
            Assert.True(train.Rc == 0, train.Output);
            using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(hf, "report.json"))))
            {
                Assert.Equal(3, report.RootElement.GetProperty("steps_done").GetInt32());
                Assert.True(double.IsFinite(report.RootElement.GetProperty("held_out_loss").GetDouble()));
                Assert.True(report.RootElement.GetProperty("parameters").GetInt32() > 0);
            }

            string gguf = Path.Combine(dir, "demo.gguf");
            var (rc, _, error) = CliRunner.Run("model", "convert", hf, "--output", gguf, "--type", "F16");
            Assert.True(rc == 0, error);

            string sluice = $"dotnet {Path.Combine(AppContext.BaseDirectory, "sluice.dll")}";
            var verify = Run(python, $"\"{Path.Combine(tool, "verify.py")}\" \"{hf}\" \"{gguf}\" --tolerance 0.01 --tokens 6 --sluice \"{sluice}\"", TimeSpan.FromMinutes(5));
            Assert.True(verify.Rc == 0, verify.Output);
            Assert.Contains("largest top-10 logprob difference", verify.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Rc, string Output) Run(string file, string args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["OMP_NUM_THREADS"] = "1";
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"{file} {args} ran past {timeout}");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("repository root (Sluice.sln) not found above " + AppContext.BaseDirectory);
    }
}
