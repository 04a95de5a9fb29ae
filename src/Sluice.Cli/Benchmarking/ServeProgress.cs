using System.Globalization;
using Sluice.Cli.Output;

namespace Sluice.Cli.Benchmarking;

/// <summary>`bench serve`'s progress: requests done, errors, and output tokens per second so far, on the one progress bar.</summary>
internal sealed class ServeProgress(ProgressBar bar)
{
    private readonly Lock _lock = new();
    private int _done, _errors;
    private long _tokens;

    public void Add(RequestResult result)
    {
        lock (_lock)
        {
            _done++;
            _errors += result.Ok ? 0 : 1;
            _tokens += result.Ok ? result.OutputTokens : 0;
            double seconds = bar.Seconds;
            bar.Report(_done, string.Create(CultureInfo.InvariantCulture, $"{_errors} errors, {_tokens / Math.Max(seconds, 1e-9):F1} output tok/s, {seconds:F1} s"));
        }
    }
}
