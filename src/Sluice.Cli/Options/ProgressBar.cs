using System.Diagnostics;

namespace Sluice.Cli.Options;

/// <summary>A one-line progress bar on a text writer (stderr), redrawn at most a few times a second.</summary>
internal sealed class ProgressBar(TextWriter output, int total, string unit)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;

    public void Report(int done, string detail, bool force = false)
    {
        long now = _clock.ElapsedMilliseconds;
        if (!force && now - _lastDraw < 250)
        {
            return;
        }
        _lastDraw = now;
        const int Width = 30;
        int filled = total == 0 ? Width : (int)((long)done * Width / total);
        var bar = new string('=', filled) + (filled < Width ? ">" + new string(' ', Width - filled - 1) : "");
        output.Write($"\r[{bar}] {done}/{total} {unit} {detail}   ");
        if (done >= total)
        {
            output.WriteLine();
        }
        output.Flush();
    }
}
