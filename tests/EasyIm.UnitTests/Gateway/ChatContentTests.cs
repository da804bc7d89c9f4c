using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;

namespace EasyIm.UnitTests.Gateway;

/// <summary>Content that can never be stored is answered FAIL at the gateway, as messaging would, without crossing the bus.</summary>
public sealed class ChatContentTests : IAsyncLifetime
{
    private readonly GatewayOptions _options = new();
    private GatewayServices _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Theory]
    [InlineData("empty", "content must not be empty")]
    [InlineData("nul", "content must not contain the NUL character")]
    [InlineData("unpaired", "content must be valid Unicode text")]
    [InlineData("long", "content must be at most 16384 characters")]
    public async Task Content_that_can_never_be_stored_gets_its_FAIL_here_and_the_next_message_goes(string kind, string reason)
    {
        // Built here: a test runner's theory data would not carry an unpaired surrogate through.
        var content = kind switch
        {
            "empty" => "",
            "nul" => "a\0b",
            "unpaired" => "a" + (char)0xD800 + "b",
            _ => new string('x', 16 * 1024 + 1),
        };
        var connection = new RecordingConnection(_options);
        _gateway.Registry.Opened(connection);
        _ = connection.RunAsync(_gateway.Handler);
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        Assert.Contains("KEEP_ALIVE", (await connection.NextWrittenAsync()).Msg.Content);

        await connection.Incoming.Writer.WriteAsync(new Msg { Seq = 1, ToUserId = "2002", ClientMsgId = "bad", Content = content });
        await connection.Incoming.Writer.WriteAsync(new Msg { Seq = 2, ToUserId = "2002", ClientMsgId = "good", Content = "hello" });
        var fail = (await connection.NextWrittenAsync()).Msg;

        Assert.Equal((Msg.Types.MsgStatus.Fail, "bad", 1U), (fail.Status, fail.ClientMsgId, fail.Seq));
        Assert.StartsWith(reason, fail.Error);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        List<ChatSubmission> submitted;
        while ((submitted = _gateway.Harness.Sent.Select<SubmitChatMessages>().SelectMany(p => p.Context.Message.Messages).ToList()).Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the valid message never reached the bus");
            await Task.Delay(10);
        }
        var only = Assert.Single(submitted);
        // The refused message is not the valid one's predecessor: it never reached messaging.
        Assert.Equal(("good", null), (only.Message.ClientMsgId, only.PreviousClientMsgId));
        Assert.False(connection.IsClosing);
    }
}
