using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Friends.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "friends");

            migrationBuilder.CreateTable(
                name: "friend_requests",
                schema: "friends",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false),
                    FromUserId = table.Column<long>(type: "bigint", nullable: false),
                    ToUserId = table.Column<long>(type: "bigint", nullable: false),
                    Message = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    Status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    AnsweredAtMs = table.Column<long>(type: "bigint", nullable: true),
                    CommandId = table.Column<Guid>(type: "uuid", nullable: true),
                    AnswerCommandId = table.Column<Guid>(type: "uuid", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_friend_requests", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "friendships",
                schema: "friends",
                columns: table => new
                {
                    UserId = table.Column<long>(type: "bigint", nullable: false),
                    FriendId = table.Column<long>(type: "bigint", nullable: false),
                    Remark = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_friendships", x => new { x.UserId, x.FriendId });
                });

            migrationBuilder.CreateTable(
                name: "group_members",
                schema: "friends",
                columns: table => new
                {
                    GroupId = table.Column<long>(type: "bigint", nullable: false),
                    UserId = table.Column<long>(type: "bigint", nullable: false),
                    Role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    JoinedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    AddedByCommandId = table.Column<Guid>(type: "uuid", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_group_members", x => new { x.GroupId, x.UserId });
                });

            migrationBuilder.CreateTable(
                name: "groups",
                schema: "friends",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false),
                    Name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    OwnerId = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    DismissedAtMs = table.Column<long>(type: "bigint", nullable: true),
                    CommandId = table.Column<Guid>(type: "uuid", nullable: true),
                    Version = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_groups", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "node_leases",
                schema: "friends",
                columns: table => new
                {
                    NodeId = table.Column<int>(type: "integer", nullable: false),
                    Holder = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_node_leases", x => x.NodeId);
                });

            migrationBuilder.CreateTable(
                name: "users",
                schema: "friends",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false),
                    Account = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    AccountKey = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Nickname = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    NicknameKey = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Avatar = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_users", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_friend_requests_CommandId",
                schema: "friends",
                table: "friend_requests",
                column: "CommandId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_friend_requests_ToUserId_Status_CreatedAtMs",
                schema: "friends",
                table: "friend_requests",
                columns: new[] { "ToUserId", "Status", "CreatedAtMs" });

            migrationBuilder.CreateIndex(
                name: "IX_friend_requests_pending_pair",
                schema: "friends",
                table: "friend_requests",
                columns: new[] { "FromUserId", "ToUserId" },
                unique: true,
                filter: "\"Status\" = 'Pending'");

            migrationBuilder.CreateIndex(
                name: "IX_group_members_UserId",
                schema: "friends",
                table: "group_members",
                column: "UserId");

            migrationBuilder.CreateIndex(
                name: "IX_groups_CommandId",
                schema: "friends",
                table: "groups",
                column: "CommandId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_users_AccountKey",
                schema: "friends",
                table: "users",
                column: "AccountKey");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "friend_requests",
                schema: "friends");

            migrationBuilder.DropTable(
                name: "friendships",
                schema: "friends");

            migrationBuilder.DropTable(
                name: "group_members",
                schema: "friends");

            migrationBuilder.DropTable(
                name: "groups",
                schema: "friends");

            migrationBuilder.DropTable(
                name: "node_leases",
                schema: "friends");

            migrationBuilder.DropTable(
                name: "users",
                schema: "friends");
        }
    }
}
