using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Scenarios.FriendSteps;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>"Read by" (issue 15): who of a group received and read it, over HTTP, for its members only.</summary>
public abstract class ReadByScenarios(EasyImShape shape)
{
    private async Task<JsonElement> ReceiptsAsync(TestUser user, string conversation)
    {
        var reply = await shape.GetAsync($"/api/chat/receipts?conversation_id={conversation}", user.AccessToken);
        Assert.True(reply.Status == 200, $"receipts: {reply.Status} {reply.Msg}");
        return reply.Data;
    }

    private static (long Arrived, long Read) Of(JsonElement data, TestUser user) =>
        data.GetProperty("items").EnumerateArray().Where(i => i.Str("user_id") == Id(user.Id))
            .Select(i => (i.GetProperty("arrived_seq").GetInt64(), i.GetProperty("read_seq").GetInt64())).Single();

    [SkippableFact]
    public async Task A_member_sees_how_far_each_other_member_received_and_read_the_group_and_a_stranger_is_refused()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bo = await shape.NewUserAsync();
        var cat = await shape.NewUserAsync();
        var stranger = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(owner, bo);
        await shape.MakeFriendsAsync(owner, cat);
        var group = await shape.CreateGroupAsync(owner, bo, cat);
        var conversation = $"g_{group}";
        await using var cOwner = await shape.ConnectAsync(owner, ClientTransport.WebSocketJson);
        await using var cBo = await shape.ConnectAsync(bo, ClientTransport.TcpProtobuf);
        await using var cCat = await shape.ConnectAsync(cat, ClientTransport.TcpJson);

        await cOwner.SendAsync(Frames.Chat(group, "read me", "rb-1", chatType: Msg.Types.ChatType.Group));
        var ack = await cOwner.AckAsync("rb-1");
        var atBo = await cBo.WaitForAsync(m => IsChat(m, "rb-1"), Wait);
        await cCat.WaitForAsync(m => IsChat(m, "rb-1"), Wait);
        await cBo.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = conversation, ["seq"] = atBo.ConversationSeq }));
        await cCat.SendAsync(Frames.Event("ARRIVED", new Dictionary<string, object?> { ["conversation_id"] = conversation, ["seq"] = atBo.ConversationSeq }));
        // The owner is told (READ covers bo); then the cursors answer the question for any member, at any time.
        await cOwner.WaitForAsync(m => Frames.IsEvent(m, "READ"), Wait);
        await cOwner.WaitForAsync(m => Frames.IsEvent(m, "ARRIVED") && (Data(m).GetProperty("user_id").GetString() == Id(cat.Id)
            || (Data(m).TryGetProperty("user_ids", out var all) && all.EnumerateArray().Any(u => u.GetString() == Id(cat.Id)))), Wait);

        var seenByBo = await ReceiptsAsync(bo, conversation);
        var seenByOwner = await ReceiptsAsync(owner, conversation);

        var seq = (long)ack.ConversationSeq;
        Assert.Equal(seq, seenByOwner.GetProperty("last_seq").GetInt64());
        Assert.Equal(2, seenByOwner.GetProperty("total").GetInt32());
        Assert.Equal((seq, seq), Of(seenByOwner, bo));
        Assert.Equal((seq, 0L), Of(seenByOwner, cat));
        // Each member sees the others, not themselves (the owner sent it: their cursor is past it).
        Assert.Equal([Id(owner.Id), Id(cat.Id)], seenByBo.GetProperty("items").EnumerateArray().Select(i => i.Str("user_id")).Order());
        Assert.Equal((seq, seq), Of(seenByBo, owner));
        // The client library reads the same.
        using var api = EasyImApi.Connect("127.0.0.1", shape.ApiPort);
        api.AccessToken = owner.AccessToken;
        var viaClient = await api.ReceiptsAsync(conversation);
        Assert.Equal((seq, seq, 0L), (viaClient.LastSeq, viaClient.Items.Single(i => i.UserId == bo.Id).ReadSeq, viaClient.Items.Single(i => i.UserId == cat.Id).ReadSeq));
        AssertRefused(await shape.GetAsync($"/api/chat/receipts?conversation_id={conversation}", stranger.AccessToken), 403, "conversation_id");
        AssertRefused(await shape.GetAsync("/api/chat/receipts?conversation_id=x_1", owner.AccessToken), 400, "conversation_id");
        AssertRefused(await shape.GetAsync("/api/chat/receipts", owner.AccessToken), 400, "conversation_id");
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneReadByScenarios(StandaloneShape shape) : ReadByScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedReadByScenarios(DistributedShape shape) : ReadByScenarios(shape);
