using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Scenarios.FriendSteps;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>Group administration (issue 15, begun): the owner removes a member, who hears it even when offline.</summary>
public abstract class GroupAdminScenarios(EasyImShape shape)
{
    private static bool IsSyncDone(Msg m) => Frames.IsEvent(m, "SYNC") && Data(m).TryGetProperty("done", out _);

    [SkippableFact]
    public async Task The_owner_removes_a_member_everyone_hears_who_did_it_the_removed_one_even_offline_and_may_no_longer_write()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bo = await shape.NewUserAsync();
        var cat = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(owner, bo);
        await shape.MakeFriendsAsync(owner, cat);
        var group = await shape.CreateGroupAsync(owner, bo, cat);
        await using var cCat = await shape.ConnectAsync(cat, ClientTransport.TcpJson);
        // Bo is offline when removed, at a position his client knows.
        var away = await shape.ConnectAsync(bo, ClientTransport.WebSocketProtobuf, after: 0);
        await away.WaitForAsync(IsSyncDone, Wait);
        await shape.StreamHoldsAsync(bo, 1); // the group's creation is in his stream
        var boPosition = (await shape.GetAsync("/api/user/updates?after=0", bo.AccessToken)).Data.GetProperty("last").GetInt64();
        await away.DisposeAsync();

        var byCat = await shape.PostAsync("/api/group/remove", new { group_id = Id(group), user_id = Id(bo.Id) }, cat.AccessToken);
        var self = await shape.PostAsync("/api/group/remove", new { group_id = Id(group), user_id = Id(owner.Id) }, owner.AccessToken);
        var removed = await shape.PostAsync("/api/group/remove", new { group_id = Id(group), user_id = Id(bo.Id) }, owner.AccessToken);
        var again = await shape.PostAsync("/api/group/remove", new { group_id = Id(group), user_id = Id(bo.Id) }, owner.AccessToken);

        AssertRefused(byCat, 403, "group_id");
        AssertRefused(self, 400, "user_id");
        Assert.True(removed.Status == 200, $"remove: {removed.Status} {removed.Msg}");
        AssertRefused(again, 404, "user_id");
        var atCat = await cCat.WaitForAsync(m => Frames.IsEvent(m, "GROUP_LEAVE"), Wait);
        Assert.Equal((Id(bo.Id), Id(owner.Id), 2), (Data(atCat).Str("user_id"), Data(atCat).Str("by_user_id"), Data(atCat).GetProperty("member_count").GetInt32()));

        // Bo comes back after his position: the removal is there, once, naming the owner.
        await shape.StreamHoldsAsync(bo, 1, after: (ulong)boPosition);
        await using var back = await shape.ConnectAsync(bo, ClientTransport.TcpJson, after: (ulong)boPosition);
        var leave = await back.WaitForAsync(m => Frames.IsEvent(m, "GROUP_LEAVE"), Wait);
        await back.WaitForAsync(IsSyncDone, Wait);
        Assert.Equal((Id(group), Id(bo.Id), Id(owner.Id)), (Data(leave).Str("group_id"), Data(leave).Str("user_id"), Data(leave).Str("by_user_id")));
        Assert.Null(await back.TryWaitForAsync(m => Frames.IsEvent(m, "GROUP_LEAVE"), TimeSpan.Zero));
        // And may no longer write to the group, nor see it in his list.
        await back.SendAsync(Frames.Chat(group, "still here?", "k-1", chatType: Msg.Types.ChatType.Group));
        var refused = await back.AckAsync("k-1");
        Assert.Equal((Msg.Types.MsgStatus.Fail, "you are not a member of this group"), (refused.Status, refused.Error));
        Assert.DoesNotContain(Id(group), (await shape.ItemsAsync("/api/group/list", bo)).Select(g => g.Str("id")));
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneGroupAdminScenarios(StandaloneShape shape) : GroupAdminScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedGroupAdminScenarios(DistributedShape shape) : GroupAdminScenarios(shape);
