using EasyIm.Contracts.Friends;

namespace EasyIm.UnitTests.Friends;

public sealed class CheckRelationshipsTests : IAsyncLifetime
{
    private FriendsHarness _h = null!;

    public async Task InitializeAsync() => _h = await FriendsHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Friendships_and_memberships_are_answered_as_they_stand_now_one_answer_per_query()
    {
        var a = await _h.NewUserAsync();
        var b = await _h.NewUserAsync();
        var stranger = await _h.NewUserAsync();
        var sent = await _h.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(a, b, null));
        await _h.OkAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(b, sent.RequestId, null));
        var group = (await _h.OkAsync<CreateGroup, GroupCreated>(new CreateGroup(a, "g", [b]))).GroupId;

        var answers = (await _h.OkAsync<CheckRelationships, RelationshipsChecked>(new CheckRelationships(
        [
            new(a, b, false), new(b, a, false), new(a, stranger, false),
            new(b, group, true), new(stranger, group, true), new(a, 999, true),
        ]))).Answers;

        Assert.Equal(
            [(a, b, false, true), (b, a, false, true), (a, stranger, false, false), (b, group, true, true), (stranger, group, true, false), (a, 999L, true, false)],
            answers.Select(x => (x.UserId, x.OtherId, x.IsGroup, x.Related)));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_member_who_left_or_a_removed_friend_is_no_longer_related()
    {
        var a = await _h.NewUserAsync();
        var b = await _h.NewUserAsync();
        var sent = await _h.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(a, b, null));
        await _h.OkAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(b, sent.RequestId, null));
        var group = (await _h.OkAsync<CreateGroup, GroupCreated>(new CreateGroup(a, "g", [b]))).GroupId;

        await _h.OkAsync<LeaveGroup, GroupMembersChanged>(new LeaveGroup(b, group));
        await _h.OkAsync<RemoveFriend, FriendRemoved>(new RemoveFriend(a, b));
        var answers = (await _h.OkAsync<CheckRelationships, RelationshipsChecked>(new CheckRelationships(
            [new(a, b, false), new(b, group, true), new(a, group, true)]))).Answers;

        Assert.Equal([false, false, true], answers.Select(x => x.Related));
        await _h.AssertNoFaultsAsync();
    }
}
