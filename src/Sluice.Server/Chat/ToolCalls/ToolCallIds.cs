using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Server.Chat.ToolCalls;

/// <summary>
/// Tool call ids, made from the request's id, the choice and the call's place so that a stream and its answer agree:
/// <c>call_...</c>, or for Mistral's family nine letters and digits, the only ids its templates take back.
/// </summary>
internal static class ToolCallIds
{
    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static string Of(ToolCallFormat format, string requestId, int choice, int call)
    {
        string id = string.Create(CultureInfo.InvariantCulture, $"call_{requestId}_{choice}_{call}");
        if (format != ToolCallFormat.Mistral)
        {
            return id;
        }
        ulong hash = BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(id)));
        var chars = new char[9];
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphanumerics[(int)(hash % (ulong)Alphanumerics.Length)];
            hash /= (ulong)Alphanumerics.Length;
        }
        return new string(chars);
    }
}
