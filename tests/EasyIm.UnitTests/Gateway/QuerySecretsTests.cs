using System.Text.Json;
using EasyIm.Gateway.Http;
using Microsoft.AspNetCore.Http;

namespace EasyIm.UnitTests.Gateway;

public class QuerySecretsTests
{
    private static async Task<(bool Passed, int Status, string? Field)> SendAsync(string method, string query)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = "/api/anything";
        context.Request.QueryString = new QueryString(query);
        context.Response.Body = new MemoryStream();
        var passed = false;
        await QuerySecrets.RefuseAsync(context, _ =>
        {
            passed = true;
            return Task.CompletedTask;
        });
        if (passed)
            return (true, context.Response.StatusCode, null);
        context.Response.Body.Position = 0;
        using var envelope = await JsonDocument.ParseAsync(context.Response.Body);
        Assert.Equal(context.Response.StatusCode, envelope.RootElement.GetProperty("code").GetInt32());
        return (false, context.Response.StatusCode, envelope.RootElement.GetProperty("data").GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("POST", "?account=a&password=secret", "password")]
    [InlineData("GET", "?password=secret", "password")]
    [InlineData("POST", "?PassWord=secret", "password")]
    [InlineData("POST", "?refresh_token=abc", "refresh_token")]
    [InlineData("GET", "?keyword=x&refresh_token=", "refresh_token")]
    [InlineData("POST", "?access_token=abc", "access_token")]
    [InlineData("DELETE", "?access_token=abc", "access_token")]
    public async Task A_secret_in_the_query_string_is_refused_400_naming_it(string method, string query, string field)
    {
        var (passed, status, named) = await SendAsync(method, query);

        Assert.False(passed);
        Assert.Equal(400, status);
        Assert.Equal(field, named);
    }

    [Theory]
    [InlineData("GET", "?access_token=abc&conversation_id=s_1_2")]
    [InlineData("GET", "?keyword=password")]
    [InlineData("POST", "")]
    [InlineData("POST", "?group_id=5")]
    public async Task Other_queries_and_an_access_token_on_a_GET_pass(string method, string query) =>
        Assert.True((await SendAsync(method, query)).Passed);
}
