using System.Text;

namespace Sluice.Hosting.Metrics;

/// <summary>Label values from closed sets only (enums, route templates, status codes): never client-chosen strings.</summary>
public static class LabelValues
{
    /// <summary>QueueFull → "queue_full".</summary>
    public static string Snake<T>(T value)
        where T : struct, Enum
    {
        string name = value.ToString();
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                sb.Append('_');
            }
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }

    public static IEnumerable<string> AllSnake<T>()
        where T : struct, Enum => Enum.GetValues<T>().Select(Snake);

    /// <summary>A route template; the fallback's catch-all ("{*path}") and anything unmatched become "unmatched".</summary>
    public static string Route(string template) => template.StartsWith('/') ? template : "unmatched";

    /// <summary>The status code as text when it is one the server answers with, else "other".</summary>
    public static string Code(int status) => status is >= 100 and <= 599 ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : "other";
}
