using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Telemetry;

/// <summary>
/// One chat message is one trace across every hop, collected over OTLP from real <c>easyim</c>
/// processes: the gateway's receive span, the bus hop, the messaging store span, and the gateway's
/// push spans (the sender's SENT ack and the recipient's copy) share one trace id and chain by parent.
/// </summary>
public sealed class ChatTraceTests
{
    private static readonly TimeSpan SpanWait = TimeSpan.FromSeconds(30);

    private static Dictionary<string, string> Exporting(OtlpReceiver receiver) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        // Export every 200 ms rather than every 5 s, so the test waits less.
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "60000",
        ["OTEL_SERVICE_NAME"] = "easyim-{target}",
    };

    [Fact]
    public async Task A_chat_message_is_one_trace_from_receive_to_push_in_the_standalone_process()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var server = await ServerProcesses.StandaloneAsync(Exporting(receiver));

        await ChatAndCheckTraceAsync(server, receiver);
    }

    [SkippableFact]
    public async Task A_chat_message_is_one_trace_across_the_gateway_and_messaging_processes_on_RabbitMQ()
    {
        var (infrastructure, missing) = await TestInfrastructure.GetAsync();
        Skip.If(infrastructure is null && !TestInfrastructure.Required, missing);
        Assert.True(infrastructure is not null, missing);
        await using var receiver = await OtlpReceiver.StartAsync();
        ServerProcesses server;
        try
        {
            server = await ServerProcesses.DistributedAsync(infrastructure, Exporting(receiver));
        }
        catch (HttpRequestException ex) when (!TestInfrastructure.Required)
        {
            // Testcontainers' RabbitMQ publishes its management port elsewhere; set EASYIM_TEST_RABBITMQ_API.
            throw new SkipException($"RabbitMQ's management API, needed for a vhost of this test's own, did not answer: {ex.Message}");
        }
        await using var _ = server;

        var spans = await ChatAndCheckTraceAsync(server, receiver);

        Assert.Contains(spans, s => s.Service == "easyim-gateway" && s.Name == "chat receive");
        Assert.Contains(spans, s => s.Service == "easyim-messaging" && s.Name == "chat store");
        Assert.Contains(spans, s => s.Service == "easyim-gateway" && s.Name == "chat push");
        // The bus hop in between, on RabbitMQ: MassTransit's spans in both processes, in the same trace.
        Assert.Contains(spans, s => s.Service == "easyim-gateway" && s.Scope == "MassTransit");
        Assert.Contains(spans, s => s.Service == "easyim-messaging" && s.Scope == "MassTransit");
    }

    /// <summary>A sends B one message; returns every span of its trace once receive, store and both pushes are in.</summary>
    private static async Task<IReadOnlyList<ReceivedSpan>> ChatAndCheckTraceAsync(ServerProcesses server, OtlpReceiver receiver)
    {
        var a = await server.NewUserAsync();
        var b = await server.NewUserAsync();
        await server.MakeFriendsAsync(a, b);
        await using var alice = await ConnectAsync(server, a);
        await using var bob = await ConnectAsync(server, b);
        var clientMsgId = "trace-" + Guid.NewGuid().ToString("N")[..8];

        await alice.SendAsync(Frames.Chat(b.Id, "traced hello", clientMsgId, seq: 1));
        var ack = await alice.AckAsync(clientMsgId);
        var delivered = await bob.WaitForAsync(m => ShapeClients.IsChat(m, clientMsgId), ShapeClients.Wait);
        Assert.Equal(Msg.Types.MsgStatus.Sent, ack.Status);

        ReceivedSpan? Receive(IReadOnlyList<ReceivedSpan> all) =>
            all.FirstOrDefault(s => s.Name == "chat receive" && s.Attributes.GetValueOrDefault("easyim.client_msg_id") == clientMsgId);
        var spans = await receiver.WaitForAsync(all =>
        {
            if (Receive(all) is not { } receive)
                return false;
            var trace = all.Where(s => s.TraceId == receive.TraceId).ToList();
            var pushedTo = trace.Where(s => s.Name == "chat push").SelectMany(PushedTo).ToHashSet();
            return trace.Any(s => s.Name == "chat store") && pushedTo.Contains(a.Id) && pushedTo.Contains(b.Id);
        }, SpanWait, () => server.Errors);

        var root = Receive(spans)!;
        var inTrace = spans.Where(s => s.TraceId == root.TraceId).ToList();
        Assert.Equal("", root.ParentSpanId); // the message starts its own trace
        var store = Assert.Single(inTrace, s => s.Name == "chat store");
        Assert.Equal(root.SpanId, store.ParentSpanId);
        Assert.Equal(delivered.ConversationSeq.ToString(System.Globalization.CultureInfo.InvariantCulture), store.Attributes["easyim.conversation_seq"]);
        var pushes = inTrace.Where(s => s.Name == "chat push").ToList();
        Assert.All(pushes, p => Assert.Equal(store.SpanId, p.ParentSpanId));
        // The SENT ack and the recipient's copy (one push when both are on the same gateway).
        var pushedTo = pushes.SelectMany(PushedTo).ToHashSet();
        Assert.Contains(a.Id, pushedTo); // the SENT ack
        Assert.Contains(b.Id, pushedTo); // the recipient's copy
        // The batch that carried it to messaging continues the same trace (it travelled alone).
        var batch = Assert.Single(inTrace, s => s.Name == "chat batch send");
        Assert.Equal(root.SpanId, batch.ParentSpanId);
        Assert.Contains(inTrace, s => s.Scope == "MassTransit" && s.ParentSpanId.Length > 0);
        return inTrace;
    }

    private static IEnumerable<long> PushedTo(ReceivedSpan push) =>
        push.Attributes.GetValueOrDefault("easyim.user_ids", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse);

    private static async Task<EasyImClient> ConnectAsync(ServerProcesses server, TestUser user)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", server.SocketPort, ClientTransport.TcpJson);
        try
        {
            await client.HandshakeAsync(user.Id, user.AccessToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }
}
