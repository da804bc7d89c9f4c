using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Connections;
using EasyIm.IntegrationTests.Shapes;
using Google.Protobuf;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// The gateway's long connections end to end, over real sockets: the heartbeat handshake on every
/// transport, the session rules (timeouts, impersonation, logout, device replacement), delivery of
/// pushes, and every kind of bad input. Each bad input is tried with a well-behaved connection of
/// another user open beside it, which must still be served afterwards.
/// The shapes run with Gateway:HandshakeTimeout=3 and Gateway:DropAfter=6 (EasyImShape.Common).
/// </summary>
public abstract class ConnectionScenarios(EasyImShape shape)
{
    private const string KeepAliveReply = "{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}";
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(15);
    private const int HandshakeTimeoutSeconds = 3;
    private const int DropAfterSeconds = 6;

    private Task<EasyImClient> ConnectAsync(ClientTransport transport, bool keepAlive = false) =>
        EasyImClient.ConnectAsync("127.0.0.1", shape.SocketPort, transport,
            new EasyImClientOptions { KeepAliveEvery = keepAlive ? TimeSpan.FromSeconds(2) : null });

    /// <param name="keepAlive">Heartbeats every 2 s, for a bystander that must outlive DropAfter however slow the test runs.</param>
    private async Task<(TestUser User, EasyImClient Client)> SignedInAsync(ClientTransport transport, TestUser? user = null, string? deviceId = null, bool keepAlive = false)
    {
        user ??= await shape.NewUserAsync();
        var client = await ConnectAsync(transport, keepAlive);
        await client.HandshakeAsync(user.Id, user.AccessToken, deviceId);
        return (user, client);
    }

    /// <summary>The connection is still served: a heartbeat is answered.</summary>
    private static async Task AssertServedAsync(EasyImClient client)
    {
        await client.SendAsync(Frames.Heartbeat(client.UserId));
        var reply = await client.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Answer);
        Assert.Equal(KeepAliveReply, reply.Content);
        Assert.False(client.IsClosed);
    }

    /// <summary>The server answered a NOTIFY with <paramref name="code"/> and then closed the connection.</summary>
    private static async Task<Msg> AssertNotifiedAndClosedAsync(EasyImClient client, int code)
    {
        var notify = await client.WaitForAsync(m => Frames.IsNotify(m), Answer);
        Assert.Equal(code, Frames.NotifyCode(notify));
        Assert.False(string.IsNullOrWhiteSpace(Frames.NotifyMessage(notify)));
        await client.Closed.WaitAsync(Answer);
        return notify;
    }

    /// <summary>Polls a condition the server reaches on its own, for at most <see cref="Answer"/>.</summary>
    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Answer)
                return false;
            await Task.Delay(50);
        }
        return true;
    }

    // ---- handshake ----

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson)]
    [InlineData(ClientTransport.TcpProtobuf)]
    [InlineData(ClientTransport.WebSocketJson)]
    [InlineData(ClientTransport.WebSocketProtobuf)]
    public async Task The_heartbeat_handshake_succeeds_with_easyims_exact_reply(ClientTransport transport)
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        await using var client = await ConnectAsync(transport);

        var reply = await client.HandshakeAsync(user.Id, user.AccessToken);

        Assert.Equal(Msg.Types.MsgType.Event, reply.MsgType);
        Assert.Equal(user.Id.ToString(), reply.ToUserId);
        Assert.Equal(KeepAliveReply, reply.Content);
        Assert.Equal(new Msg { MsgType = Msg.Types.MsgType.Event, ToUserId = user.Id.ToString(), Content = KeepAliveReply }, reply);
        await AssertServedAsync(client);
    }

    [SkippableFact]
    public async Task A_json_line_typed_into_a_raw_socket_is_answered_like_nc()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", shape.SocketPort);
        using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream, Encoding.UTF8);

        var line = $"{{\"from_user_id\":\"{user.Id}\",\"access_token\":\"{user.AccessToken}\",\"msg_type\":4,\"content\":\"{{\\\"key\\\":\\\"KEEP_ALIVE\\\"}}\"}}\r\n";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line));
        var answer = await reader.ReadLineAsync().WaitAsync(Answer);

        using var json = JsonDocument.Parse(answer!);
        var root = json.RootElement;
        Assert.Equal(["to_user_id", "msg_type", "content"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(user.Id.ToString(), root.GetProperty("to_user_id").GetString());
        Assert.Equal(4, root.GetProperty("msg_type").GetInt32());
        Assert.Equal(KeepAliveReply, root.GetProperty("content").GetString());
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson)]
    [InlineData(ClientTransport.TcpProtobuf)]
    [InlineData(ClientTransport.WebSocketJson)]
    [InlineData(ClientTransport.WebSocketProtobuf)]
    public async Task A_bad_token_is_answered_notify_401_and_closed(ClientTransport transport)
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        var other = await shape.NewUserAsync();
        await using var client = await ConnectAsync(transport);
        await using var otherUsersToken = await ConnectAsync(transport);

        var bad = await Assert.ThrowsAsync<EasyImServerException>(() => client.HandshakeAsync(user.Id, user.AccessToken + "x"));
        var notMine = await Assert.ThrowsAsync<EasyImServerException>(() => otherUsersToken.HandshakeAsync(user.Id, other.AccessToken));

        Assert.Equal((401, 401), (bad.Code, notMine.Code));
        Assert.Equal(Msg.Types.MsgType.Notify, bad.Frame.MsgType);
        await client.Closed.WaitAsync(Answer);
        await otherUsersToken.Closed.WaitAsync(Answer);
    }

    [SkippableFact]
    public async Task A_first_frame_that_is_not_the_heartbeat_is_answered_notify_401_and_closed()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        await using var client = await ConnectAsync(ClientTransport.TcpJson);

        await client.SendAsync(Frames.Chat(user.Id, "hello before the handshake", "c1"));

        await AssertNotifiedAndClosedAsync(client, 401);
    }

    [SkippableFact]
    public async Task A_connection_that_does_not_handshake_in_time_is_closed()
    {
        shape.RequireAvailable();
        var clock = Stopwatch.StartNew();
        await using var silentWebSocket = await ConnectAsync(ClientTransport.WebSocketJson);
        using var silentSocket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await silentSocket.ConnectAsync("127.0.0.1", shape.SocketPort);

        // The WebSocket is answered (in JSON, its default) before it closes; the raw socket has not
        // said which format it speaks, so it is just closed.
        var notify = await AssertNotifiedAndClosedAsync(silentWebSocket, 408);
        var read = await silentSocket.ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(Answer);

        Assert.Equal(0, read);
        Assert.Contains("handshake", Frames.NotifyMessage(notify));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(HandshakeTimeoutSeconds - 0.5), $"closed after {clock.Elapsed}, before the timeout");
    }

    // ---- the session ----

    [SkippableFact]
    public async Task An_idle_connection_is_closed_after_DropAfter_seconds()
    {
        shape.RequireAvailable();
        var (_, client) = await SignedInAsync(ClientTransport.TcpProtobuf);
        await using var _ = client;
        var clock = Stopwatch.StartNew();

        var notify = await AssertNotifiedAndClosedAsync(client, 408);

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(DropAfterSeconds - 1), $"closed after {clock.Elapsed}, before DropAfter");
        Assert.Contains(DropAfterSeconds.ToString(), Frames.NotifyMessage(notify));
    }

    [SkippableFact]
    public async Task The_clients_own_keep_alive_carries_an_idle_connection_past_DropAfter()
    {
        shape.RequireAvailable();
        var (_, client) = await SignedInAsync(ClientTransport.WebSocketJson, keepAlive: true);
        await using var _ = client;

        // Wait for the server's answers to the client's own beats until DropAfter has passed.
        var clock = Stopwatch.StartNew();
        var answered = 0;
        while (clock.Elapsed <= TimeSpan.FromSeconds(DropAfterSeconds + 1))
        {
            await client.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Answer);
            answered++;
        }

        Assert.True(answered >= 3, $"{answered} heartbeats answered");
        Assert.False(client.IsClosed, client.CloseReason);
    }

    [SkippableFact]
    public async Task Later_heartbeats_are_answered_the_same_and_keep_the_connection_past_DropAfter()
    {
        shape.RequireAvailable();
        var (user, client) = await SignedInAsync(ClientTransport.TcpJson);
        await using var _ = client;
        var clock = Stopwatch.StartNew();

        // Four beats two seconds apart: eight seconds in all, past DropAfter (6 s). Without a token,
        // with it, with the content as an embedded object: all are heartbeats after the handshake.
        var beats = new[]
        {
            "{\"msg_type\":4,\"content\":\"{\\\"key\\\":\\\"KEEP_ALIVE\\\"}\"}",
            $"{{\"msg_type\":\"EVENT\",\"from_user_id\":\"{user.Id}\",\"access_token\":\"{user.AccessToken}\",\"content\":{{\"key\":\"KEEP_ALIVE\"}}}}",
            "{\"msg_type\":4,\"content\":{\"key\":\"KEEP_ALIVE\",\"device_id\":\"d1\"}}",
            "{\"msg_type\":4,\"content\":{\"key\":\"KEEP_ALIVE\"}}",
        };
        for (var i = 0; i < beats.Length; i++)
        {
            await client.SendRawAsync(Encoding.UTF8.GetBytes(beats[i] + "\n"));
            var reply = await client.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Answer);
            Assert.Equal(new Msg { MsgType = Msg.Types.MsgType.Event, ToUserId = user.Id.ToString(), Content = KeepAliveReply }, reply);
            var next = TimeSpan.FromSeconds(2 * (i + 1)) - clock.Elapsed;
            if (next > TimeSpan.Zero)
                await Task.WhenAny(client.Closed, Task.Delay(next));
            Assert.False(client.IsClosed, $"closed after {clock.Elapsed}: {client.CloseReason}");
        }

        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(DropAfterSeconds));
        await AssertServedAsync(client);
    }

    [SkippableFact]
    public async Task A_frame_claiming_another_user_is_refused_with_403_and_the_connection_stays()
    {
        shape.RequireAvailable();
        var victim = await shape.NewUserAsync();
        var (_, client) = await SignedInAsync(ClientTransport.WebSocketProtobuf);
        await using var _ = client;

        await client.SendAsync(Frames.Heartbeat(victim.Id));
        var chat = Frames.Chat(victim.Id, "as someone else", "c-403");
        chat.FromUserId = victim.Id.ToString();
        await client.SendAsync(chat);

        var first = await client.WaitForAsync(m => Frames.IsNotify(m), Answer);
        var second = await client.WaitForAsync(m => Frames.IsNotify(m), Answer);
        Assert.Equal((403, 403), (Frames.NotifyCode(first), Frames.NotifyCode(second)));
        Assert.Equal(client.UserId.ToString(), first.ToUserId);
        await AssertServedAsync(client);
    }

    [SkippableFact]
    public async Task Logout_closes_every_live_connection_of_the_user_and_no_one_elses()
    {
        shape.RequireAvailable();
        var (user, tcp) = await SignedInAsync(ClientTransport.TcpProtobuf);
        var secondLogin = await shape.PostAsync("/api/user/login", new { account = user.Account, password = user.Password });
        await using var webSocket = await ConnectAsync(ClientTransport.WebSocketJson);
        await webSocket.HandshakeAsync(user.Id, secondLogin.Data.GetProperty("access_token").GetString()!);
        var (_, bystander) = await SignedInAsync(ClientTransport.TcpJson, keepAlive: true);
        await using var _ = tcp;
        await using var __ = bystander;

        var logout = await shape.PostAsync("/api/user/logout", new { access_token = user.AccessToken });

        Assert.Equal(200, logout.Status);
        await AssertNotifiedAndClosedAsync(tcp, 401);
        await AssertNotifiedAndClosedAsync(webSocket, 401);
        await AssertServedAsync(bystander);
        await using var again = await ConnectAsync(ClientTransport.TcpJson);
        Assert.Equal(401, (await Assert.ThrowsAsync<EasyImServerException>(() => again.HandshakeAsync(user.Id, user.AccessToken))).Code);
    }

    [SkippableFact]
    public async Task A_secret_reset_closes_the_users_live_connections_and_the_new_token_connects()
    {
        shape.RequireAvailable();
        var (user, client) = await SignedInAsync(ClientTransport.WebSocketProtobuf);
        await using var _ = client;

        var reset = await shape.PostAsync("/api/user/refresh_token",
            new { grant_type = "access_token", refresh_token = user.RefreshToken, reset_secret = true });

        Assert.Equal(200, reset.Status);
        await AssertNotifiedAndClosedAsync(client, 401);
        await using var fresh = await ConnectAsync(ClientTransport.TcpProtobuf);
        await fresh.HandshakeAsync(user.Id, reset.Data.GetProperty("token").GetString()!);
        await AssertServedAsync(fresh);
    }

    [SkippableFact]
    public async Task A_new_connection_with_the_device_id_of_a_live_one_replaces_it()
    {
        shape.RequireAvailable();
        var (user, phone) = await SignedInAsync(ClientTransport.TcpJson, deviceId: "phone");
        var (_, tablet) = await SignedInAsync(ClientTransport.WebSocketProtobuf, user, deviceId: "tablet");
        var (_, noDevice) = await SignedInAsync(ClientTransport.TcpProtobuf, user);
        await using var _ = phone;
        await using var __ = tablet;
        await using var ___ = noDevice;

        var (_, newPhone) = await SignedInAsync(ClientTransport.WebSocketJson, user, deviceId: "phone");
        await using var ____ = newPhone;

        await AssertNotifiedAndClosedAsync(phone, 409);
        await AssertServedAsync(tablet);
        await AssertServedAsync(noDevice);
        await AssertServedAsync(newPhone);
        var registry = shape.GatewayServices.GetRequiredService<ConnectionRegistry>();
        Assert.Equal(["phone", "tablet", null], registry.OfUser(user.Id).Select(c => c.Session?.DeviceId).OrderBy(d => d ?? "~"));
    }

    [SkippableFact]
    public async Task Http_is_served_on_the_long_connection_port()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{shape.SocketPort}"), Timeout = Answer };

        var login = await http.PostAsJsonAsync("/api/user/login", new { account = user.Account, password = user.Password });
        var reply = await ApiReply.ReadAsync(login);
        var health = await http.GetAsync("/health/live");

        Assert.Equal(200, reply.Status);
        Assert.Equal(user.Id.ToString(), reply.Data.GetProperty("id").GetString());
        Assert.True(health.IsSuccessStatusCode);
    }

    // ---- delivery ----

    [SkippableFact]
    public async Task Pushes_reach_each_connection_of_the_user_in_order_in_its_own_format_honouring_skip_and_only()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        var clients = new List<EasyImClient>();
        foreach (var transport in Enum.GetValues<ClientTransport>())
            clients.Add((await SignedInAsync(transport, user)).Client);
        try
        {
            var registry = shape.GatewayServices.GetRequiredService<ConnectionRegistry>();
            var ids = registry.OfUser(user.Id).Select(c => c.Id).ToList();
            Assert.Equal(4, ids.Count);
            var skipped = ids[0];
            var only = ids[1];
            WireMessage Message(int n) => new()
            {
                Id = 384510486852403200 + n,
                FromUserId = 9,
                ToUserId = user.Id,
                MsgType = 0,
                Status = 1,
                Content = $"message {n} 你好",
                ClientMsgId = "c-" + n,
                ConversationId = $"s_9_{user.Id}",
                ConversationSeq = (ulong)n,
                SentAt = 1795741643000 + n,
            };

            await shape.MessagingBus.Publish(new PushToUsers(
            [
                new UserPush(user.Id, Message(1)),
                new UserPush(user.Id, Message(2), SkipConnectionId: skipped),
                new UserPush(user.Id, Message(3), OnlyConnectionId: only),
                new UserPush(user.Id + 1, Message(99)),
                new UserPush(user.Id, Message(4)),
            ]));

            foreach (var client in clients)
            {
                var id = registry.OfUser(user.Id).Single(c => c.Transport == (client.Transport is ClientTransport.TcpJson or ClientTransport.TcpProtobuf ? "tcp" : "websocket")
                    && c.Format == (client.IsJson ? EasyIm.Gateway.Wire.WireFormat.Json : EasyIm.Gateway.Wire.WireFormat.Protobuf)).Id;
                var expected = new List<int> { 1 };
                if (id != skipped)
                    expected.Add(2);
                if (id == only)
                    expected.Add(3);
                expected.Add(4);
                var received = new List<Msg>();
                foreach (var _ in expected)
                    received.Add(await client.WaitForAsync(m => m.MsgType == Msg.Types.MsgType.Text, Answer));

                Assert.Equal(expected.Select(n => $"message {n} 你好"), received.Select(m => m.Content));
                var first = received[0];
                Assert.Equal(("384510486852403201", "9", user.Id.ToString(), Msg.Types.MsgStatus.Sent, "c-1", $"s_9_{user.Id}", 1UL, 1795741643001L),
                    (first.Id, first.FromUserId, first.ToUserId, first.Status, first.ClientMsgId, first.ConversationId, first.ConversationSeq, first.SentAt));
                await AssertServedAsync(client);
                Assert.DoesNotContain(client.Pending, m => m.MsgType == Msg.Types.MsgType.Text);
            }
        }
        finally
        {
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }

    // ---- bad input: NOTIFY where the server still can, close, and the others never notice ----

    private async Task BadInputAsync(ClientTransport transport, bool handshake, Func<EasyImClient, Task> misbehave, int code)
    {
        var (_, bystander) = await SignedInAsync(ClientTransport.TcpJson, keepAlive: true);
        var (_, webBystander) = await SignedInAsync(ClientTransport.WebSocketProtobuf, keepAlive: true);
        await using var _ = bystander;
        await using var __ = webBystander;
        EasyImClient offender;
        if (handshake)
            offender = (await SignedInAsync(transport)).Client;
        else
            offender = await ConnectAsync(transport);
        await using var ___ = offender;

        try
        {
            await misbehave(offender);
        }
        catch (Exception ex) when (ex is IOException or SocketException or System.Net.WebSockets.WebSocketException)
        {
            // The server may close while the rest is still being sent; what it answered before is checked below.
        }

        await AssertNotifiedAndClosedAsync(offender, code);
        await AssertServedAsync(bystander);
        await AssertServedAsync(webBystander);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpProtobuf)]
    [InlineData(ClientTransport.WebSocketProtobuf)]
    public async Task Random_bytes_are_answered_notify_400_and_closed(ClientTransport transport)
    {
        shape.RequireAvailable();
        // A length of 64, then 64 bytes that are no protobuf message (a field tag that never ends).
        var bytes = new byte[65];
        bytes[0] = 64;
        new Random(7).NextBytes(bytes.AsSpan(1));
        bytes.AsSpan(1, 12).Fill(0xFF);
        var payload = transport == ClientTransport.TcpProtobuf ? bytes : bytes[1..];

        await BadInputAsync(transport, handshake: false, c => c.SendRawAsync(payload).AsTask(), 400);
    }

    [SkippableFact]
    public async Task Random_bytes_after_the_handshake_are_answered_notify_400_and_closed()
    {
        shape.RequireAvailable();
        var bytes = new byte[200];
        new Random(11).NextBytes(bytes);
        // A varint prefix that never ends: no frame can be cut from this stream.
        bytes.AsSpan(0, 6).Fill(0x80);

        await BadInputAsync(ClientTransport.TcpProtobuf, handshake: true, c => c.SendRawAsync(bytes).AsTask(), 400);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson)]
    [InlineData(ClientTransport.TcpProtobuf)]
    public async Task A_truncated_frame_then_silence_is_closed_at_the_timeout(ClientTransport transport)
    {
        shape.RequireAvailable();
        var heartbeat = Frames.Heartbeat(1, "token");
        byte[] whole;
        if (transport == ClientTransport.TcpJson)
        {
            whole = Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(heartbeat) + "\n");
        }
        else
        {
            using var stream = new MemoryStream();
            heartbeat.WriteDelimitedTo(stream);
            whole = stream.ToArray();
        }

        await BadInputAsync(transport, handshake: false, c => c.SendRawAsync(whole.AsMemory(0, whole.Length / 2)).AsTask(), 408);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson)]
    [InlineData(ClientTransport.TcpProtobuf)]
    [InlineData(ClientTransport.WebSocketJson)]
    [InlineData(ClientTransport.WebSocketProtobuf)]
    public async Task An_oversized_frame_is_answered_notify_400_and_closed(ClientTransport transport)
    {
        shape.RequireAvailable();
        var huge = new Msg { MsgType = Msg.Types.MsgType.Text, ToUserId = "1", Content = new string('x', 70 * 1024) };

        await BadInputAsync(transport, handshake: true, c => c.SendAsync(huge).AsTask(), 400);
    }

    [SkippableFact]
    public async Task A_length_prefix_over_the_limit_is_refused_before_the_body_is_sent()
    {
        shape.RequireAvailable();
        // 1 MiB announced, nothing more sent: the server must not wait for it.
        await BadInputAsync(ClientTransport.TcpProtobuf, handshake: true, c => c.SendRawAsync(new byte[] { 0x80, 0x80, 0x40 }).AsTask(), 400);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson, false, "{\"msg_type\": 4, oops}\n")]
    [InlineData(ClientTransport.TcpJson, true, "{\"msg_type\":4,\"content\":\"{\\\"key\\\":\"}\n")]
    [InlineData(ClientTransport.WebSocketJson, false, "not json at all")]
    [InlineData(ClientTransport.WebSocketJson, true, "{\"msg_type\":4,\"content\":{\"key\":\"KEEP_ALIVE\"}")]
    public async Task Invalid_json_is_answered_notify_400_and_closed(ClientTransport transport, bool handshake, string text)
    {
        shape.RequireAvailable();

        await BadInputAsync(transport, handshake, c => c.SendRawAsync(Encoding.UTF8.GetBytes(text)).AsTask(), 400);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson, "{\"msg_type\":9,\"content\":\"x\"}")]
    [InlineData(ClientTransport.TcpJson, "{\"msg_type\":\"SHOUT\"}")]
    [InlineData(ClientTransport.TcpJson, "{\"msg_type\":5,\"content\":\"{\\\"code\\\":200}\"}")]
    [InlineData(ClientTransport.WebSocketProtobuf, null)]
    public async Task An_unknown_msg_type_is_answered_notify_400_and_closed(ClientTransport transport, string? json)
    {
        shape.RequireAvailable();
        Func<EasyImClient, Task> send = json is null
            ? c => c.SendAsync(new Msg { MsgType = (Msg.Types.MsgType)42, Content = "x" }).AsTask()
            : c => c.SendRawAsync(Encoding.UTF8.GetBytes(json + "\n")).AsTask();

        await BadInputAsync(transport, handshake: true, send, 400);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpProtobuf)]
    [InlineData(ClientTransport.WebSocketJson)]
    public async Task An_unknown_event_key_is_answered_notify_400_and_closed(ClientTransport transport)
    {
        shape.RequireAvailable();

        await BadInputAsync(transport, handshake: true, c => c.SendAsync(Frames.Event("DANCE")).AsTask(), 400);
    }

    [SkippableTheory]
    [InlineData("{\"msg_type\":0,\"to_user_id\":\"5\",\"seq\":\"abc\",\"content\":\"hi\"}")]
    [InlineData("{\"msg_type\":0,\"to_user_id\":{\"id\":5},\"content\":\"hi\"}")]
    [InlineData("{\"msg_type\":0,\"to_user_id\":\"not-an-id\",\"content\":\"hi\"}")]
    [InlineData("{\"msg_type\":0,\"to_user_id\":\"5\",\"content\":[1,2],\"chat_type\":7}")]
    [InlineData("{\"msg_type\":4,\"content\":{\"key\":\"ARRIVED\",\"conversation_id\":5,\"seq\":1}}")]
    [InlineData("{\"msg_type\":4,\"content\":{\"key\":\"READ\",\"conversation_id\":\"s_1_2\",\"seq\":\"many\"}}")]
    [InlineData("{\"msg_type\":4,\"content\":{\"key\":\"SYNC\",\"conversations\":[1]}}")]
    [InlineData("{\"msg_type\":4,\"content\":{\"key\":\"FRIEND_INVITE\"}}")]
    [InlineData("{\"msg_type\":4,\"content\":{\"key\":\"FRIEND_AGREE\",\"id\":true}}")]
    [InlineData("{\"msg_type\":4,\"content\":{\"key\":5}}")]
    [InlineData("{\"msg_type\":4,\"content\":\"KEEP_ALIVE\"}")]
    public async Task Wrong_field_types_are_answered_notify_400_and_closed(string json)
    {
        shape.RequireAvailable();

        await BadInputAsync(ClientTransport.TcpJson, handshake: true, c => c.SendRawAsync(Encoding.UTF8.GetBytes(json + "\n")).AsTask(), 400);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson)]
    [InlineData(ClientTransport.WebSocketProtobuf)]
    public async Task A_flood_beyond_the_rate_limit_is_answered_notify_429_and_closed(ClientTransport transport)
    {
        shape.RequireAvailable();
        var peer = await shape.NewUserAsync();

        // TYPING counts against the limit (burst 200, 100 per second) and stores nothing. The gateway reads
        // TYPING without waiting for the bus, so these arrive faster than 100 per second however slow the
        // broker is; the bound only ends the loop (the client learns of the close from its reader).
        await BadInputAsync(transport, handshake: true, async c =>
        {
            var typing = Frames.Event("TYPING", toUserId: peer.Id);
            for (var i = 0; i < 2_000 && !c.IsClosed; i++)
                await c.SendAsync(typing);
        }, 429);
    }

    [SkippableFact]
    public async Task Heartbeats_receipts_and_sync_do_not_count_against_the_rate_limit()
    {
        shape.RequireAvailable();
        var (_, client) = await SignedInAsync(ClientTransport.TcpProtobuf);
        await using var _ = client;

        for (var i = 0; i < 300; i++)
        {
            await client.SendAsync(Frames.Heartbeat(client.UserId));
            await client.SendAsync(Frames.Event("ARRIVED", new Dictionary<string, object?> { ["conversation_id"] = "s_1_2", ["seq"] = i }));
        }
        await client.SendAsync(Frames.Event("SYNC"));

        for (var i = 0; i < 300; i++)
            await client.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Answer);
        await AssertServedAsync(client);
        Assert.DoesNotContain(client.Pending, m => Frames.IsNotify(m));
    }

    [SkippableFact]
    public async Task A_client_that_never_reads_is_dropped_and_does_not_slow_anyone_else()
    {
        shape.RequireAvailable();
        var slow = await shape.NewUserAsync();
        var (_, bystander) = await SignedInAsync(ClientTransport.WebSocketJson, keepAlive: true);
        await using var _ = bystander;

        // A raw socket with a small receive window that never reads: the server's replies back up.
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync("127.0.0.1", shape.SocketPort);
        var heartbeat = $"{{\"msg_type\":4,\"from_user_id\":\"{slow.Id}\",\"access_token\":\"{slow.AccessToken}\",\"content\":{{\"key\":\"KEEP_ALIVE\"}}}}\n";
        await socket.SendAsync(Encoding.UTF8.GetBytes(heartbeat));
        var burst = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"msg_type\":4,\"content\":{\"key\":\"KEEP_ALIVE\"}}\n", 1000)));

        // Each heartbeat earns a reply nobody reads; keep sending until the server drops us.
        var clock = Stopwatch.StartNew();
        var dropped = false;
        for (var round = 0; round < 2000 && clock.Elapsed < TimeSpan.FromSeconds(60); round++)
        {
            try
            {
                using var timeout = new CancellationTokenSource(Answer);
                await socket.SendAsync(burst, SocketFlags.None, timeout.Token);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                dropped = true;
                break;
            }
            if (round % 100 == 50)
                await AssertServedAsync(bystander);
        }

        Assert.True(dropped, $"the server still took heartbeats after {clock.Elapsed}");
        await AssertServedAsync(bystander);
        var registry = shape.GatewayServices.GetRequiredService<ConnectionRegistry>();
        Assert.True(await EventuallyAsync(() => registry.OfUser(slow.Id).IsEmpty), "the dropped connection is still registered");
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneConnectionScenarios(StandaloneShape shape) : ConnectionScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedConnectionScenarios(DistributedShape shape) : ConnectionScenarios(shape);
