using System.Text;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Bad input stays with its sender: text no store accepts (U+0000, unpaired surrogates) and rows the database
/// itself refuses are answered to the sender alone (FAIL, 400, NOTIFY 400), at once, while a bystander pair
/// chats on and loses nothing. On PostgreSQL a NUL used to fail the whole write group for 30 s.
/// </summary>
public abstract class BadInputScenarios(EasyImShape shape)
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(15);

    private async Task<(TestUser Attacker, TestUser Friend)> FriendsAsync()
    {
        var attacker = await shape.NewUserAsync("attacker");
        var friend = await shape.NewUserAsync("friend");
        await shape.MakeFriendsAsync(attacker, friend);
        return (attacker, friend);
    }

    [SkippableTheory]
    [InlineData(ClientTransport.TcpJson)]
    [InlineData(ClientTransport.TcpProtobuf)]
    [InlineData(ClientTransport.WebSocketJson)]
    public async Task A_message_with_NUL_is_answered_FAIL_at_once_and_the_connection_and_everyone_else_go_on(ClientTransport transport)
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        await using var client = await shape.ConnectAsync(attacker, transport);

        for (var i = 0; i < 20; i++)
            await client.SendAsync(Frames.Chat(friend.Id, $"a\u0000{i}", $"nul-{i}"));
        await client.SendAsync(Frames.Chat(friend.Id, "fine", "after"));

        for (var i = 0; i < 20; i++)
        {
            var fail = await client.WaitForAsync(m => IsChat(m, $"nul-{i}"), Answer);
            Assert.Equal(Msg.Types.MsgStatus.Fail, fail.Status);
            Assert.Contains("NUL", fail.Error);
        }
        var ack = await client.AckAsync("after");
        Assert.Equal(Msg.Types.MsgStatus.Sent, ack.Status);
        Assert.Equal(1UL, ack.ConversationSeq);
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task Rows_the_database_refuses_fail_alone_while_the_rest_of_their_group_and_the_bystanders_are_stored()
    {
        shape.RequireAvailable();
        // The store refuses some rows for their data, as a check constraint, a trigger or an encoding the
        // edge did not catch would: a permanent error inside a write group shared with other senders.
        await shape.ExecuteOnMessagingStoreAsync(
            "CREATE TRIGGER IF NOT EXISTS refuse_poison_rows BEFORE INSERT ON messages WHEN NEW.content LIKE 'poison-row:%' " +
            "BEGIN SELECT RAISE(ABORT, 'refused by the abuse test'); END;",
            "CREATE OR REPLACE FUNCTION messaging.refuse_poison_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
            "IF NEW.content LIKE 'poison-row:%' THEN RAISE EXCEPTION 'refused by the abuse test' USING ERRCODE = 'check_violation'; END IF; " +
            "RETURN NEW; END $$; " +
            "DROP TRIGGER IF EXISTS refuse_poison_rows ON messaging.messages; " +
            "CREATE TRIGGER refuse_poison_rows BEFORE INSERT ON messaging.messages FOR EACH ROW EXECUTE FUNCTION messaging.refuse_poison_rows();");
        try
        {
            var bystanders = await Bystanders.StartAsync(shape);
            var (attacker, friend) = await FriendsAsync();
            await using var client = await shape.ConnectAsync(attacker, ClientTransport.TcpProtobuf);
            await using var receiver = await shape.ConnectAsync(friend, ClientTransport.WebSocketJson);

            // Poison and good rows interleaved, sent as fast as the socket takes them, so that they share groups.
            for (var i = 0; i < 60; i++)
                await client.SendAsync(Frames.Chat(friend.Id, i % 3 == 0 ? $"poison-row:{i}" : $"good:{i}", $"p-{i}"));

            var acked = new List<Msg>();
            for (var i = 0; i < 60; i++)
            {
                var answer = await client.WaitForAsync(m => IsChat(m, $"p-{i}"), Answer);
                if (i % 3 == 0)
                {
                    Assert.Equal(Msg.Types.MsgStatus.Fail, answer.Status);
                    Assert.Contains("refused", answer.Error);
                }
                else
                {
                    Assert.Equal(Msg.Types.MsgStatus.Sent, answer.Status);
                    acked.Add(answer);
                }
            }
            // The good ones are numbered in send order, gap-free, and delivered.
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (ulong)i), acked.Select(a => a.ConversationSeq));
            var delivered = await receiver.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(attacker.Id), 40);
            Assert.All(delivered, m => Assert.StartsWith("good:", m.Content));
            Assert.False(client.IsClosed);
            await bystanders.VerifyAsync();
        }
        finally
        {
            await shape.ExecuteOnMessagingStoreAsync("DROP TRIGGER IF EXISTS refuse_poison_rows;",
                "DROP TRIGGER IF EXISTS refuse_poison_rows ON messaging.messages;");
        }
    }

    [SkippableFact]
    public async Task NUL_and_unpaired_surrogates_in_HTTP_input_are_answered_400_naming_the_field()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        var stranger = await shape.NewUserAsync();

        static void Refused(ApiReply reply, string field)
        {
            Assert.Equal(400, reply.Status);
            Assert.Contains(field, reply.Msg);
        }

        // JSON bodies, with the escapes spelled as a client would send them.
        Refused(await shape.PostAsync("/api/user/friend/add",
            $"{{\"to_user_id\":\"{Id(stranger.Id)}\",\"msg\":\"hi\\u0000there\"}}", attacker.AccessToken), "msg");
        Refused(await shape.PostAsync("/api/user/friend/add",
            $"{{\"to_user_id\":\"{Id(stranger.Id)}\",\"msg\":\"hi\\ud800there\"}}", attacker.AccessToken), "msg");
        Refused(await shape.PostAsync("/api/user/register",
            "{\"account\":\"nul" + Guid.NewGuid().ToString("N")[..8] + "\",\"password\":\"pass\\u0000word\",\"nickname\":\"x\"}"), "password");
        Refused(await shape.PostAsync("/api/user/register",
            "{\"account\":\"nul" + Guid.NewGuid().ToString("N")[..8] + "\",\"password\":\"pass-word-1\",\"nickname\":\"a\\udc00b\"}"), "nickname");
        Refused(await shape.PostAsync("/api/group/create",
            $"{{\"name\":\"tea\\u0000time\",\"member_ids\":[\"{Id(friend.Id)}\"]}}", attacker.AccessToken), "name");
        // The query string.
        Refused(await shape.GetAsync("/api/user/search?keyword=ab%00cd", attacker.AccessToken), "keyword");
        Refused(await shape.GetAsync($"/api/chat/history?conversation_id={Uri.EscapeDataString(Conversation(attacker, friend))}%00", attacker.AccessToken),
            "conversation_id");

        // Nothing of it was stored: the stranger has no request, and the attacker is still served.
        var requests = await shape.GetAsync("/api/user/friend/requests", stranger.AccessToken);
        Assert.Equal(200, requests.Status);
        Assert.DoesNotContain(Id(attacker.Id), requests.Data.ToString());
        var search = await shape.GetAsync("/api/user/search?keyword=" + Uri.EscapeDataString(friend.Account), attacker.AccessToken);
        Assert.Equal(200, search.Status);
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task NUL_in_a_socket_friend_invite_and_an_unpaired_surrogate_in_a_JSON_frame_are_answered_NOTIFY_400()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, _) = await FriendsAsync();
        var stranger = await shape.NewUserAsync();

        await using (var client = await shape.ConnectAsync(attacker, ClientTransport.WebSocketJson))
        {
            await client.SendAsync(Frames.Event("FRIEND_INVITE", new Dictionary<string, object?> { ["msg"] = "hi\u0000" }, stranger.Id));
            var notify = await client.WaitForAsync(m => Frames.IsNotify(m), Answer);
            Assert.Equal(400, Frames.NotifyCode(notify));
            Assert.Contains("NUL", Frames.NotifyMessage(notify));
        }

        await using (var raw = await shape.ConnectAsync(attacker, ClientTransport.TcpJson))
        {
            var frame = $"{{\"to_user_id\":\"{Id(stranger.Id)}\",\"msg_type\":0,\"content\":\"x\\ud800y\",\"client_msg_id\":\"s-1\"}}\n";
            await raw.SendRawAsync(Encoding.UTF8.GetBytes(frame));
            var notify = await raw.WaitForAsync(m => Frames.IsNotify(m), Answer);
            Assert.Equal(400, Frames.NotifyCode(notify));
            Assert.Contains("surrogate", Frames.NotifyMessage(notify), StringComparison.OrdinalIgnoreCase);
        }

        var requests = await shape.GetAsync("/api/user/friend/requests", stranger.AccessToken);
        Assert.DoesNotContain(Id(attacker.Id), requests.Data.ToString());
        await bystanders.VerifyAsync();
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneBadInputScenarios(StandaloneShape shape) : BadInputScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedBadInputScenarios(DistributedShape shape) : BadInputScenarios(shape);
