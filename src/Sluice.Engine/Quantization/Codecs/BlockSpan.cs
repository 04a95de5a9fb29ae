namespace Sluice.Engine.Quantization.Codecs;

/// <summary>Argument checks shared by the codecs: inputs are whole blocks and outputs are large enough.</summary>
internal static class BlockSpan
{
    /// <summary>Number of blocks that quantizing <paramref name="values"/> floats produces.</summary>
    public static int ForQuantize(int values, int outputBytes, int blockElements, int blockBytes, string format)
    {
        if (values % blockElements != 0)
        {
            throw new ArgumentException($"{format}: {values} values is not a whole number of {blockElements}-value blocks");
        }
        int blocks = values / blockElements;
        if ((long)blocks * blockBytes > outputBytes)
        {
            throw new ArgumentException($"{format}: {values} values need {(long)blocks * blockBytes} bytes, the output has {outputBytes}");
        }
        return blocks;
    }

    /// <summary>Number of blocks in <paramref name="inputBytes"/> bytes of quantized data.</summary>
    public static int ForDequantize(int inputBytes, int outputValues, int blockElements, int blockBytes, string format)
    {
        if (inputBytes % blockBytes != 0)
        {
            throw new ArgumentException($"{format}: {inputBytes} bytes is not a whole number of {blockBytes}-byte blocks");
        }
        int blocks = inputBytes / blockBytes;
        if ((long)blocks * blockElements > outputValues)
        {
            throw new ArgumentException($"{format}: {inputBytes} bytes hold {(long)blocks * blockElements} values, the output has room for {outputValues}");
        }
        return blocks;
    }
}
