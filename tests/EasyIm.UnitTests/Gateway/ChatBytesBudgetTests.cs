using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// Chat content is budgeted in bytes per user beside the message count: long messages as fast as the
/// message budgets allow are refused with their FAIL, short ones still go, and another user is not touched.
/// </summary>
public sealed class ChatBytesBudgetTests : IAsyncLifetime
{
    private readonly GatewayOptions _options = new()
    {
        // 1,000 bytes at once and (within a test) no refill; the message budgets far away.
        Budgets = new GatewayOptions.BudgetOptions { ChatBytesPerUser = new GatewayOptions.Budget { PerSecond = 0.001, Burst = 1000 } },
    };
    private GatewayServices _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<RecordingConnection> SignedInAsync(long userId, string token)
    {
        var connection = new RecordingConnection(_options);
        _gateway.Registry.Opened(connection);
        _ = connection.RunAsync(_gateway.Handler);
        await connection.Incoming.Writer.WriteAsync(new Msg
        {
            MsgType = Msg.Types.MsgType.Event, FromUserId = userId.ToString(), AccessToken = token, Content = "{\"key\":\"KEEP_ALIVE\"}",
        });
        Assert.Contains("KEEP_ALIVE", (await connection.NextWrittenAsync()).Msg.Content);
        return connection;
    }

    private static Msg Chat(string id, string content) => new() { ToUserId = "3003", ClientMsgId = id, Content = content };

    private IEnumerable<string> Submitted(long userId) =>
        _gateway.Harness.Sent.Select<SubmitChatMessages>().SelectMany(p => p.Context.Message.Messages)
            .Where(m => m.SenderId == userId).Select(m => m.Message.ClientMsgId!).ToList();

    [Fact]
    public async Task Long_messages_past_the_users_byte_budget_get_their_FAIL_while_short_ones_and_other_users_go()
    {
        var greedy = await SignedInAsync(GatewayServices.UserId, GatewayServices.GoodToken);
        var other = await SignedInAsync(GatewayServices.OtherUserId, GatewayServices.OtherUserToken);

        // 2 x 450 bytes fit the 1,000; the third does not; a 50-byte message still does ("é" is two bytes).
        await greedy.Incoming.Writer.WriteAsync(Chat("long-1", new string('x', 450)));
        await greedy.Incoming.Writer.WriteAsync(Chat("long-2", new string('x', 450)));
        await greedy.Incoming.Writer.WriteAsync(Chat("long-3", new string('é', 225)));
        var fail = (await greedy.NextWrittenAsync()).Msg;
        await greedy.Incoming.Writer.WriteAsync(Chat("short", new string('x', 50)));
        await other.Incoming.Writer.WriteAsync(Chat("other", new string('x', 900)));

        Assert.Equal((Msg.Types.MsgStatus.Fail, "long-3"), (fail.Status, fail.ClientMsgId));
        Assert.StartsWith("bytes of chat content are over budget (1000 at once, then one every 1000 seconds, for this user across all its connections)", fail.Error);
        Assert.Contains("\"code\":429", (await greedy.NextWrittenAsync()).Msg.Content);
        await EventuallyAsync(() => Submitted(GatewayServices.OtherUserId).Contains("other") && Submitted(GatewayServices.UserId).Contains("short"));
        Assert.Equal(["long-1", "long-2", "short"], Submitted(GatewayServices.UserId).Order());
        Assert.False(greedy.IsClosing);
    }

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the messages within budget never reached the bus");
            await Task.Delay(10);
        }
    }
}
