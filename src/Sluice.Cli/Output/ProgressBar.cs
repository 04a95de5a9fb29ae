using System.Diagnostics;

namespace Sluice.Cli.Output;

/// <summary>
/// The one progress bar of the CLI: a line on a text writer (stderr), <c>[=====&gt;    ] done/total unit, detail</c>,
/// redrawn at most four times a second and always at the end, where it ends the line. Thread-safe: load generators
/// report from many requests at once.
/// </summary>
internal sealed class ProgressBar(TextWriter output, int total, string unit)
{
    private const int Width = 30;
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _lastDraw;

    /// <summary>Seconds since the bar was made, for rates in the detail.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;

    /// <summary>Shows <paramref name="done"/> of the total with <paramref name="detail"/> (errors, rates); the last step always draws.</summary>
    public void Report(int done, string detail)
    {
        lock (_lock)
        {
            var now = _clock.Elapsed;
            if (done < total && _lastDraw is { } last && now - last < RedrawInterval)
            {
                return;
            }
            _lastDraw = now;
            int filled = total == 0 ? Width : (int)((long)Math.Min(done, total) * Width / total);
            var bar = new string('=', filled) + (filled < Width ? ">" + new string(' ', Width - filled - 1) : "");
            output.Write($"\r[{bar}] {done}/{total} {unit}{(detail.Length > 0 ? ", " + detail : "")}   ");
            if (done >= total)
            {
                output.WriteLine();
            }
            output.Flush();
        }
    }
}
