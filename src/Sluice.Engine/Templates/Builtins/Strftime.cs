using System.Globalization;
using System.Text;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>
/// Python's <c>strftime</c> in the C locale, for <c>strftime_now(format)</c> (Llama 3.x prints "Today Date:
/// 26 Jul 2024" with <c>"%d %b %Y"</c>). A <c>-</c> after <c>%</c> drops zero padding, as glibc does.
/// </summary>
internal static class Strftime
{
    public static string Format(DateTime time, string format)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            var code = format[++i];
            var pad = true;
            if (code == '-' && i + 1 < format.Length)
            {
                pad = false;
                code = format[++i];
            }

            string Number(int value, int width) =>
                value.ToString(pad ? new string('0', width) : "0", CultureInfo.InvariantCulture);

            builder.Append(code switch
            {
                'a' => time.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => time.ToString("dddd", CultureInfo.InvariantCulture),
                'b' or 'h' => time.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => time.ToString("MMMM", CultureInfo.InvariantCulture),
                'c' => time.ToString("ddd MMM ", CultureInfo.InvariantCulture) + time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2) + time.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture),
                'd' => Number(time.Day, 2),
                'e' => time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(pad ? 2 : 1),
                'H' => Number(time.Hour, 2),
                'I' => Number(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'j' => Number(time.DayOfYear, 3),
                'm' => Number(time.Month, 2),
                'M' => Number(time.Minute, 2),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'S' => Number(time.Second, 2),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture),
                'u' => (time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'w' => ((int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'y' => Number(time.Year % 100, 2),
                'Y' => time.Year.ToString(CultureInfo.InvariantCulture),
                'x' => time.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
                'X' => time.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                'F' => time.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                'T' => time.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                'D' => time.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
                'Z' or 'z' => "",
                '%' => "%",
                _ => "%" + (pad ? "" : "-") + code,
            });
        }

        return builder.ToString();
    }
}
