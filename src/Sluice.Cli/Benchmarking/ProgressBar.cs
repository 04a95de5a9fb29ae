using System.Diagnostics;

namespace Sluice.Cli.Benchmarking;

/// <summary>A one-line live progress bar on stderr: requests done, errors, output tokens per second so far.</summary>
internal sealed class ProgressBar(TextWriter output, int total)
{
    private const int Width = 30;
    private readonly Lock _lock = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _lastDraw;
    private int _done, _errors;
    private long _tokens;

    public void Add(RequestResult result)
    {
        lock (_lock)
        {
            _done++;
            _errors += result.Ok ? 0 : 1;
            _tokens += result.Ok ? result.OutputTokens : 0;
            if (_done == total || Stopwatch.GetElapsedTime(_lastDraw).TotalMilliseconds >= 200)
            {
                _lastDraw = Stopwatch.GetTimestamp();
                Draw();
            }
        }
    }

    private void Draw()
    {
        double seconds = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        int filled = total == 0 ? Width : _done * Width / total;
        output.Write($"\r[{new string('#', filled)}{new string('.', Width - filled)}] {_done}/{total} requests, {_errors} errors, {_tokens / Math.Max(seconds, 1e-9):F1} output tok/s, {seconds:F1} s ");
        if (_done == total)
        {
            output.WriteLine();
        }
        output.Flush();
    }
}
