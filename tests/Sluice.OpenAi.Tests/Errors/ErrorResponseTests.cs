using System.Text;
using System.Text.Json;

namespace Sluice.OpenAi.Tests.Errors;

public sealed class ErrorResponseTests
{
    [Fact]
    public void Serialize_WithoutParamOrCode_WritesThemAsNullInOpenAisOrder()
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new ErrorResponse(new ErrorDetail("Bad \"x\" <é>", "invalid_request_error", null, null)), OpenAiJson.Web.ErrorResponse);
        Assert.Equal("""{"error":{"message":"Bad \"x\" <é>","type":"invalid_request_error","param":null,"code":null}}""", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Serialize_WithParamAndCode_WritesBoth()
    {
        var json = JsonSerializer.Serialize(new ErrorResponse(new ErrorDetail("m", "t", "prompt", "c")), OpenAiJson.Web.ErrorResponse);
        Assert.Equal("""{"error":{"message":"m","type":"t","param":"prompt","code":"c"}}""", json);
    }
}
