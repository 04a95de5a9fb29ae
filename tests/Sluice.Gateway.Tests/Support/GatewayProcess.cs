using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace Sluice.Gateway.Tests.Support;

/// <summary>`sluice gateway` as a child process on a free port, with the test master key; its output kept for assertions.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        Client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };
        Admin = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestGateway.MasterKey);
    }

    public Uri Url { get; }
    public HttpClient Client { get; }
    public HttpClient Admin { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool Exited => _process.HasExited;

    public static Process Start(string configPath, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "sluice.dll"), "gateway", "--config", configPath, "--port", "0", "--master-key", TestGateway.MasterKey,
             "--log-level", "warning", .. extra])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        return Process.Start(start)!;
    }

    public static async Task<GatewayProcess> StartAsync(string configPath)
    {
        var process = Start(configPath);
        var output = new StringBuilder();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        const string Prefix = "sluice gateway: listening on ";
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (e.Data?.StartsWith(Prefix, StringComparison.Ordinal) == true)
            {
                listening.TrySetResult(new Uri(e.Data[Prefix.Length..]));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.Exited += (_, _) =>
        {
            lock (output) // the output handlers may still be appending
            {
                listening.TrySetException(new InvalidOperationException("the gateway exited: " + output));
            }
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var url = await listening.Task.WaitAsync(TimeSpan.FromSeconds(90));
        var gateway = new GatewayProcess(process, url);
        lock (output)
        {
            gateway._output.Append(output);
        }
        process.OutputDataReceived += (_, e) => { lock (gateway._output) { gateway._output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (gateway._output) { gateway._output.AppendLine(e.Data); } };
        return gateway;
    }

    public ValueTask DisposeAsync()
    {
        Client.Dispose();
        Admin.Dispose();
        DataServers.Kill(_process);
        return ValueTask.CompletedTask;
    }
}
