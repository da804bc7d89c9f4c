using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Friends;

public sealed class GroupTests : IAsyncLifetime
{
    private FriendsHarness _h = null!;

    public async Task InitializeAsync() => _h = await FriendsHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    /// <summary>A user and friends of theirs, made friends through the real consumers.</summary>
    private async Task<(long Owner, long[] Friends)> OwnerWithFriendsAsync(int count)
    {
        var owner = await _h.NewUserAsync();
        var friends = new long[count];
        for (var i = 0; i < count; i++)
        {
            friends[i] = await _h.NewUserAsync();
            var sent = await _h.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(owner, friends[i], null));
            await _h.OkAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(friends[i], sent.RequestId, null));
        }
        return (owner, friends);
    }

    private Task<Reply<GroupCreated>> CreateAsync(long owner, string name, IReadOnlyList<long> members, Guid? messageId = null) =>
        _h.AskAsync<CreateGroup, GroupCreated>(new CreateGroup(owner, name, members), messageId);

    private Task<Reply<GroupMembersChanged>> LeaveAsync(long user, long group) =>
        _h.AskAsync<LeaveGroup, GroupMembersChanged>(new LeaveGroup(user, group));

    private Task<Reply<GroupMemberList>> MembersAsync(long user, long group) =>
        _h.AskAsync<ListGroupMembers, GroupMemberList>(new ListGroupMembers(user, group));

    [Fact]
    public async Task A_group_of_friends_has_the_creator_as_owner_and_announces_every_member()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(2);

        var created = await CreateAsync(owner, "  Weekend hikers  ", [friends[0], friends[1], friends[0], owner]);

        var id = created.Ok!.GroupId;
        var members = (await MembersAsync(friends[1], id)).Ok!.Items;
        Assert.Equal([(owner, "owner"), (friends[0], "member"), (friends[1], "member")], members.Select(m => (m.Id, m.Role)));
        Assert.Equal($"user{owner}", members[0].Account);
        var group = Assert.Single((await _h.OkAsync<ListGroups, GroupList>(new ListGroups(friends[0]))).Items);
        Assert.Equal((id, "Weekend hikers", owner, 3), (group.Id, group.Name, group.OwnerId, group.MemberCount));
        var added = _h.Published<GroupMemberAdded>();
        Assert.Equal([(owner, "owner"), (friends[0], "member"), (friends[1], "member")], added.Select(a => (a.UserId, a.Role)));
        Assert.All(added, a => Assert.Equal(id, a.GroupId));
        // Messaging had them before the answer: a message sent at once reaches every member.
        Assert.Equal(added, _h.Messaging.Applied.OfType<GroupMemberAdded>());
        // Every member's live connections hear GROUP_JOIN, so the group shows before its first message.
        var join = Assert.Single(_h.Announced(), p => p.Pushes.Any(u => u.Message.Text().Contains("GROUP_JOIN"))).Pushes;
        Assert.Equal([owner, friends[0], friends[1]], join.Select(p => p.UserId).Order());
        Assert.All(join, p => Assert.Equal((4, owner, p.UserId), (p.Message.MsgType, p.Message.FromUserId, p.Message.ToUserId)));
        // The owner's third event (after its two friends' agreements).
        Assert.Equal($$$"""{"code":200,"msg":"SUCCESS","data":{"key":"GROUP_JOIN","group_id":"{{{id}}}","user_ids":["{{{owner}}}","{{{friends[0]}}}","{{{friends[1]}}}"],"member_count":3}}""",
            join.Single(p => p.UserId == owner).Message.Text());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_group_cannot_hold_someone_who_is_not_the_creators_friend()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var stranger = await _h.NewUserAsync();

        var created = await CreateAsync(owner, "mixed", [friends[0], stranger]);

        Assert.Equal((403, "member_ids"), (created.Rejected?.Code, created.Rejected?.Field));
        Assert.Contains(stranger.ToString(), created.Rejected!.Message);
        Assert.Equal(0, await _h.WithDbAsync(db => db.Groups.CountAsync()));
        Assert.Empty(_h.Published<GroupMemberAdded>());
        await _h.AssertNoFaultsAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("a\u0007bell")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345")]
    public async Task A_bad_group_name_is_refused_naming_the_field(string name)
    {
        var owner = await _h.NewUserAsync();

        var created = await CreateAsync(owner, name, []);

        Assert.Equal((400, "name"), (created.Rejected?.Code, created.Rejected?.Field));
        Assert.Equal(0, await _h.WithDbAsync(db => db.Groups.CountAsync()));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_member_invites_friends_members_already_in_are_skipped_and_strangers_refuse_the_call()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;
        // friends[0] befriends a newcomer of their own, whom the owner does not know.
        var newcomer = await _h.NewUserAsync();
        var sent = await _h.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(friends[0], newcomer, null));
        await _h.OkAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(newcomer, sent.RequestId, null));
        var outsider = await _h.NewUserAsync();

        var byOwner = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [newcomer]));
        var byMember = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(friends[0], group, [owner, newcomer, friends[0]]));
        var again = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(friends[0], group, [newcomer]));
        var byOutsider = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(outsider, group, [outsider]));
        var unknownGroup = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, 424242, [friends[0]]));
        var nobody = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, []));

        Assert.Equal((403, "user_ids"), (byOwner.Rejected?.Code, byOwner.Rejected?.Field));
        Assert.Equal(3, byMember.Ok?.MemberCount);
        Assert.Equal(3, again.Ok?.MemberCount);
        Assert.Equal((403, "group_id"), (byOutsider.Rejected?.Code, byOutsider.Rejected?.Field));
        Assert.Equal((404, "group_id"), (unknownGroup.Rejected?.Code, unknownGroup.Rejected?.Field));
        Assert.Equal((400, "user_ids"), (nobody.Rejected?.Code, nobody.Rejected?.Field));
        Assert.Single(_h.Published<GroupMemberAdded>(), a => a.UserId == newcomer);
        Assert.Single(_h.Messaging.Applied.OfType<GroupMemberAdded>(), a => a.UserId == newcomer);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Every_member_hears_GROUP_JOIN_when_someone_is_added_and_GROUP_LEAVE_when_someone_leaves_the_leaver_too()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(2);
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;
        PushToUsers[] Pushes(string key) => [.. _h.Announced().Where(p => p.Pushes.Any(u => u.Message.Text().Contains(key)))];

        await _h.OkAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [friends[1]]));
        // Asking again adds nobody: nothing to announce.
        await _h.OkAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [friends[1]]));

        // The creation's GROUP_JOIN, then the invite's.
        Assert.Equal(2, Pushes("GROUP_JOIN").Length);
        var join = Pushes("GROUP_JOIN")[^1].Pushes;
        Assert.Equal([owner, friends[0], friends[1]], join.Select(p => p.UserId).Order());
        Assert.All(join, p => Assert.Equal((4, owner, p.UserId), (p.Message.MsgType, p.Message.FromUserId, p.Message.ToUserId)));
        Assert.Equal($$$"""{"code":200,"msg":"SUCCESS","data":{"key":"GROUP_JOIN","group_id":"{{{group}}}","user_ids":["{{{friends[1]}}}"],"member_count":3}}""",
            join.Single(p => p.UserId == owner).Message.Text());

        await LeaveAsync(friends[0], group);
        Assert.Equal(403, (await LeaveAsync(friends[0], group)).Rejected?.Code);
        // Messaging had it before the leaver was answered: the group's next message misses them.
        var left = Assert.Single(_h.Published<GroupMemberRemoved>());
        Assert.Equal([left], _h.Messaging.Applied.OfType<GroupMemberRemoved>());

        var leave = Assert.Single(Pushes("GROUP_LEAVE")).Pushes;
        Assert.Equal([owner, friends[0], friends[1]], leave.Select(p => p.UserId).Order());
        Assert.All(leave, p => Assert.Equal((4, friends[0], p.UserId), (p.Message.MsgType, p.Message.FromUserId, p.Message.ToUserId)));
        Assert.Equal($$$"""{"code":200,"msg":"SUCCESS","data":{"key":"GROUP_LEAVE","group_id":"{{{group}}}","user_id":"{{{friends[0]}}}","member_count":2}}""",
            leave.Single(p => p.UserId == owner).Message.Text());
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task Only_members_may_list_a_groups_members()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var outsider = await _h.NewUserAsync();
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;

        var byOutsider = await MembersAsync(outsider, group);
        var unknown = await MembersAsync(owner, 31337);

        Assert.Equal((403, "group_id"), (byOutsider.Rejected?.Code, byOutsider.Rejected?.Field));
        Assert.Equal(404, unknown.Rejected?.Code);
        Assert.Empty((await _h.OkAsync<ListGroups, GroupList>(new ListGroups(outsider))).Items);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task When_the_owner_leaves_the_longest_standing_member_becomes_owner()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(3);
        var group = (await CreateAsync(owner, "g", [friends[1]])).Ok!.GroupId;
        await _h.OkAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [friends[2]]));
        await _h.OkAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [friends[0]]));
        var addedBefore = _h.Published<GroupMemberAdded>().Count;

        var left = await LeaveAsync(owner, group);

        Assert.Equal(3, left.Ok?.MemberCount);
        var members = (await MembersAsync(friends[0], group)).Ok!.Items;
        // friends[1] came with the group; friends[2] and friends[0] were invited later, in that order.
        Assert.Equal([(friends[1], "owner"), (friends[2], "member"), (friends[0], "member")], members.Select(m => (m.Id, m.Role)));
        Assert.Equal(friends[1], (await _h.OkAsync<ListGroups, GroupList>(new ListGroups(friends[2]))).Items.Single().OwnerId);
        Assert.Empty((await _h.OkAsync<ListGroups, GroupList>(new ListGroups(owner))).Items);
        var removed = Assert.Single(_h.Published<GroupMemberRemoved>());
        Assert.Equal((group, owner), (removed.GroupId, removed.UserId));
        Assert.Equal(addedBefore, _h.Published<GroupMemberAdded>().Count);
        Assert.Equal((403, "group_id"), ((await LeaveAsync(owner, group)).Rejected?.Code, (await LeaveAsync(owner, group)).Rejected?.Field));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task When_the_last_member_leaves_the_group_is_dismissed()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;

        var first = await LeaveAsync(friends[0], group);
        var last = await LeaveAsync(owner, group);

        Assert.Equal(1, first.Ok?.MemberCount);
        Assert.Equal(0, last.Ok?.MemberCount);
        Assert.NotNull(await _h.WithDbAsync(db => db.Groups.Where(g => g.Id == group).Select(g => g.DismissedAtMs).SingleAsync()));
        Assert.Equal(0, await _h.WithDbAsync(db => db.GroupMembers.CountAsync(m => m.GroupId == group)));
        Assert.Equal(2, _h.Published<GroupMemberRemoved>().Count);
        // A dismissed group is gone for every purpose.
        Assert.Equal(404, (await MembersAsync(owner, group)).Rejected?.Code);
        Assert.Equal(404, (await _h.AskAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [friends[0]]))).Rejected?.Code);
        Assert.Equal(404, (await LeaveAsync(owner, group)).Rejected?.Code);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task An_owner_leaving_while_the_heir_leaves_too_hands_the_group_to_the_next_member()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(2);
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;
        await _h.OkAsync<InviteToGroup, GroupMembersChanged>(new InviteToGroup(owner, group, [friends[1]]));
        // The heir (friends[0]) leaves between the owner's read and write, as another process would.
        _h.Hook.BeforeNextSave(() => _h.WithDbAsync(async db =>
        {
            db.GroupMembers.Remove(await db.GroupMembers.SingleAsync(m => m.GroupId == group && m.UserId == friends[0]));
            (await db.Groups.SingleAsync(g => g.Id == group)).Version++;
            return await db.SaveChangesAsync();
        }));

        var left = await LeaveAsync(owner, group);

        Assert.Equal(1, left.Ok?.MemberCount);
        var member = Assert.Single((await MembersAsync(friends[1], group)).Ok!.Items);
        Assert.Equal((friends[1], GroupRoles.Owner), (member.Id, member.Role));
        Assert.Equal(friends[1], await _h.WithDbAsync(db => db.Groups.Where(g => g.Id == group).Select(g => g.OwnerId).SingleAsync()));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_member_the_projection_has_not_heard_of_is_listed_as_auth_knows_them()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;
        // As if the projection had lost the row (or never had it): auth still knows the user.
        await _h.WithDbAsync(db => db.Users.Where(u => u.Id == friends[0]).ExecuteDeleteAsync());

        var members = (await MembersAsync(owner, group)).Ok!.Items;

        Assert.Equal($"user{friends[0]}", members.Single(m => m.Id == friends[0]).Account);
        Assert.Equal(1, _h.Auth.Lookups);
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_redelivered_create_makes_one_group_and_answers_its_id()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var messageId = Guid.NewGuid();

        var first = await CreateAsync(owner, "once", [friends[0]], messageId);
        var redelivered = await CreateAsync(owner, "once", [friends[0]], messageId);

        Assert.Equal(first.Ok?.GroupId, redelivered.Ok?.GroupId);
        Assert.Equal(1, await _h.WithDbAsync(db => db.Groups.CountAsync()));
        Assert.Equal(2, await _h.WithDbAsync(db => db.GroupMembers.CountAsync()));
        // The redelivery announces the same members again (at least once), with the same group id.
        Assert.All(_h.Published<GroupMemberAdded>(), a => Assert.Equal(first.Ok!.GroupId, a.GroupId));
        await _h.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_redelivered_invite_adds_no_second_row()
    {
        var (owner, friends) = await OwnerWithFriendsAsync(2);
        var group = (await CreateAsync(owner, "g", [friends[0]])).Ok!.GroupId;
        var messageId = Guid.NewGuid();
        var invite = new InviteToGroup(owner, group, [friends[1]]);

        var first = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(invite, messageId);
        var redelivered = await _h.AskAsync<InviteToGroup, GroupMembersChanged>(invite, messageId);

        Assert.Equal((3, 3), (first.Ok?.MemberCount, redelivered.Ok?.MemberCount));
        Assert.Equal(3, await _h.WithDbAsync(db => db.GroupMembers.CountAsync(m => m.GroupId == group)));
        // Its event was stored with the first delivery and published once; the redelivery only answers (and tells
        // messaging's projection again, by request).
        Assert.Equal(1, _h.Published<GroupMemberAdded>().Count(a => a.UserId == friends[1]));
        Assert.Equal(2, _h.Messaging.Applied.OfType<GroupMemberAdded>().Count(a => a.UserId == friends[1]));
        await _h.AssertNoFaultsAsync();
    }
}
