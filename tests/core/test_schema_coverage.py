# ruff: noqa: E501 - the registry keeps one key and its test per line
"""No silent ignores, proven: every key ``validate`` accepts has a test that shows what it
does, or ``validate`` warns "accepted, no effect" and says why.

The test walks the JSON Schema that ``shunter schema`` prints (the same tables the parser
walks). Each leaf key is either marked ``x-shunter-no-effect`` in the schema (writing it
makes ``validate`` warn with that reason) or named in ``EFFECTS`` with the test that shows
its effect; the test must exist. A key added without either fails here, and so does an
entry for a key that no longer exists.

Keys are named ``Kind:path``; a promotion step's keys are the same in a Stage's
``promotionTemplate`` and in a ``PromotionTask``, so both are ``Steps:spec.steps[]...``.
A refused key (``retry``, ``title``) counts as shown by the test of its refusal.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import parse_config
from bot.core.config._tables import DOCUMENTS
from bot.core.model import NoteKind

ROOT = Path(__file__).resolve().parents[2]

#: Key path -> the test that shows its effect (``file::function``).
EFFECTS: dict[str, str] = {
    "AnalysisTemplate:spec.http.expectStatus": "tests/contract/test_gate_providers.py::test_http_check_states",
    "AnalysisTemplate:spec.http.headers": "tests/adapters/test_httpcheck.py::test_http_check_sends_its_method_and_headers",
    "AnalysisTemplate:spec.http.method": "tests/adapters/test_httpcheck.py::test_http_check_sends_its_method_and_headers",
    "AnalysisTemplate:spec.http.url": "tests/contract/test_gate_providers.py::test_http_check_states",
    "AnalysisTemplate:spec.timeout": "tests/core/test_planner_gates.py::test_step_times_out",
    "AnalysisTemplate:spec.workflow.file": "tests/test_e2e_gates.py::test_verification_and_health_gate_the_next_stage",
    "AnalysisTemplate:spec.workflow.inputs": "tests/test_e2e_gates.py::test_verification_and_health_gate_the_next_stage",
    "AnalysisTemplate:spec.workflow.ref": "tests/test_e2e_gates.py::test_verification_and_health_gate_the_next_stage",
    "Any:metadata.annotations.kargo.akuity.io/color": "tests/core/test_steps.py::test_kargo_colour_names_are_accepted",
    "Any:metadata.name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Any:metadata.namespace": "tests/core/test_steps.py::test_the_namespace_names_the_project_when_no_document_does",
    "ProjectConfig:spec.integrations.argocd.server": "tests/core/test_steps.py::test_argocd_update_names_the_stages_argo_cd_health_source",
    "ProjectConfig:spec.integrations.argocd.tokenEnv": "tests/core/test_steps.py::test_argocd_update_names_the_stages_argo_cd_health_source",
    "Steps:spec.steps[].config.apps[].name": "tests/core/test_steps.py::test_argocd_update_names_the_stages_argo_cd_health_source",
    "Steps:spec.steps[].config.apps[].namespace": "tests/core/test_steps.py::test_argocd_update_names_the_stages_argo_cd_health_source",
    "Steps:spec.steps[].config.apps[].sources[].repoURL": "tests/core/test_steps.py::test_argocd_update_names_the_stages_argo_cd_health_source",
    "Steps:spec.steps[].config.apps[].sources[].desiredCommitFromStep": "tests/core/test_steps.py::test_argocd_update_names_the_stages_argo_cd_health_source",
    "Steps:spec.steps[].config.apps[].sources[].desiredRevision": "tests/core/test_steps.py::test_argocd_update_keys_that_change_an_application_are_refused",
    "Steps:spec.steps[].config.apps[].sources[].updateTargetRevision": "tests/core/test_steps.py::test_argocd_update_keys_that_change_an_application_are_refused",
    "Steps:spec.steps[].config.apps[].sources[].chart": "tests/core/test_steps.py::test_argocd_update_keys_that_change_an_application_are_refused",
    "Steps:spec.steps[].config.apps[].sources[].kustomize": "tests/core/test_steps.py::test_argocd_update_keys_that_change_an_application_are_refused",
    "Steps:spec.steps[].config.apps[].sources[].helm": "tests/core/test_steps.py::test_argocd_update_keys_that_change_an_application_are_refused",
    "ProjectConfig:spec.deadline": "tests/test_e2e_deadlines.py::test_a_hung_registry_meets_the_deadline_and_the_others_get_freight",
    "ProjectConfig:spec.discovery.concurrency": "tests/test_discovery.py::test_subscriptions_are_asked_concurrently_within_the_pool",
    "ProjectConfig:spec.discovery.requestsPerHost": "tests/test_e2e_deadlines.py::test_202_subscriptions_on_one_host_all_get_freight_within_two_runs",
    "ProjectConfig:spec.emergencyPermission": "tests/commands/test_config_effects.py::test_emergency_permission_names_the_permission_asked",
    "ProjectConfig:spec.integrations.pagerduty.apiURL": "tests/adapters/test_pagerduty.py::test_a_custom_api_url_and_resolved_or_odd_entries",
    "ProjectConfig:spec.integrations.pagerduty.serviceIds": "tests/adapters/test_pagerduty.py::test_only_the_named_services_are_asked_about",
    "ProjectConfig:spec.integrations.pagerduty.tokenEnv": "tests/test_e2e_gates.py::test_healthy_for_incidents_and_business_hours",
    "ProjectConfig:spec.githubDeployments": "tests/test_e2e_deployments.py::test_github_deployments_false_records_none",
    "ProjectConfig:spec.monitoring.enabled": "tests/test_e2e_flask_app.py::test_seed_pipeline_dev_staging_prod",
    "ProjectConfig:spec.promotionHistory": "tests/core/test_ledger.py::test_promotion_history_past_the_window_moves_to_an_archive_file",
    "ProjectConfig:spec.promotionPolicies[].autoPromotionEnabled": "tests/core/test_steps.py::test_project_names_ctx_project_and_policies_set_auto_promotion",
    "ProjectConfig:spec.promotionPolicies[].stage": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "ProjectConfig:spec.promotionPolicies[].stageSelector.name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "ProjectConfig:spec.stateBranch": "tests/test_discovery.py::test_cache_entries_survive_the_state_branch",
    "PromotionTask:spec.vars[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "PromotionTask:spec.vars[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.conditions[].duration": "tests/core/test_planner_gates.py::test_healthy_for_blocks_until_upstream_healthy_long_enough",
    "Stage:spec.conditions[].integrations": "tests/core/test_planner_gates.py::test_conditions_block_the_merge_and_say_why",
    "Stage:spec.conditions[].schedule": "tests/test_e2e_gates.py::test_security_scan_and_schedule_gate_the_merge",
    "Stage:spec.conditions[].status": "tests/core/test_planner_gates.py::test_conditions_block_the_merge_and_say_why",
    "Stage:spec.conditions[].timezone": "tests/core/test_planner_gates.py::test_unknown_timezone_keeps_the_window_closed",
    "Stage:spec.conditions[].type": "tests/core/test_planner_gates.py::test_conditions_block_the_merge_and_say_why",
    "Stage:spec.conditions[].window": "tests/core/test_planner_gates.py::test_schedule_window_gates_auto_merge",
    "Stage:spec.gitRepoUpdates[].commitMessageTemplate": "tests/test_e2e_flask_app.py::test_seed_pipeline_dev_staging_prod",
    "Stage:spec.gitRepoUpdates[].helm.images[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.gitRepoUpdates[].helm.images[].key": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Stage:spec.gitRepoUpdates[].helm.images[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.gitRepoUpdates[].helm.images[].valuesFilePath": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Stage:spec.gitRepoUpdates[].kustomize.images[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.gitRepoUpdates[].kustomize.images[].path": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.gitRepoUpdates[].kustomize.images[].useDigest": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.gitRepoUpdates[].pullRequest": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.gitRepoUpdates[].pullRequest.github": "tests/core/test_config.py::test_kargo_spellings_map_onto_the_same_model",
    "Stage:spec.gitRepoUpdates[].repoURL": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.gitRepoUpdates[].writeBranch": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.gitRepoUpdates[].yamlUpdates[].file": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Stage:spec.gitRepoUpdates[].yamlUpdates[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.gitRepoUpdates[].yamlUpdates[].key": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Stage:spec.gitRepoUpdates[].yamlUpdates[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.health.argocd.app": "tests/contract/test_gate_providers.py::test_argocd_health_and_revision",
    "Stage:spec.health.argocd.namespace": "tests/adapters/test_argocd.py::test_app_namespace_and_a_trailing_slash_on_the_server",
    "Stage:spec.health.argocd.server": "tests/contract/test_gate_providers.py::test_argocd_health_and_revision",
    "Stage:spec.health.argocd.tokenEnv": "tests/adapters/test_argocd.py::test_refusals_say_what_to_fix_and_never_show_the_token",
    "Stage:spec.health.githubDeployment.environment": "tests/sandbox/test_github_server.py::test_deployments_and_statuses_newest_first",
    "Stage:spec.health.http.expectStatus": "tests/contract/test_gate_providers.py::test_http_health_compares_the_status",
    "Stage:spec.health.http.timeout": "tests/contract/test_gate_providers.py::test_nothing_answering_is_unhealthy",
    "Stage:spec.health.http.url": "tests/contract/test_gate_providers.py::test_http_health_compares_the_status",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].commitMessageTemplate": "tests/test_e2e_flask_app.py::test_seed_pipeline_dev_staging_prod",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].helm.images[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].helm.images[].key": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].helm.images[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].helm.images[].valuesFilePath": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].kustomize.images[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].kustomize.images[].path": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].kustomize.images[].useDigest": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].pullRequest": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].pullRequest.github": "tests/core/test_config.py::test_kargo_spellings_map_onto_the_same_model",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].repoURL": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].writeBranch": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].yamlUpdates[].file": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].yamlUpdates[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].yamlUpdates[].key": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Stage:spec.promotionMechanisms.gitRepoUpdates[].yamlUpdates[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionPolicy.approvals.approvers[].name": "tests/core/test_approvals.py::test_votes_that_do_not_count",
    "Stage:spec.promotionPolicy.approvals.approvers[].type": "tests/core/test_approvals.py::test_votes_that_do_not_count",
    "Stage:spec.promotionPolicy.approvals.minimumApprovals": "tests/core/test_approvals.py::test_two_eligible_approvals_on_head_pass",
    "Stage:spec.promotionPolicy.approvals.required": "tests/test_e2e_flask_app.py::test_seed_pipeline_dev_staging_prod",
    "Stage:spec.promotionPolicy.approvals.timeout": "tests/test_e2e_flask_app.py::test_approval_after_the_timeout_is_too_late",
    "Stage:spec.promotionPolicy.autoPromotionDelay": "tests/test_e2e_flask_app.py::test_seed_pipeline_dev_staging_prod",
    "Stage:spec.promotionPolicy.autoPromotionEnabled": "tests/core/test_steps.py::test_project_names_ctx_project_and_policies_set_auto_promotion",
    "Stage:spec.promotionPolicy.conditions[].duration": "tests/core/test_planner_gates.py::test_healthy_for_blocks_until_upstream_healthy_long_enough",
    "Stage:spec.promotionPolicy.conditions[].integrations": "tests/core/test_planner_gates.py::test_conditions_block_the_merge_and_say_why",
    "Stage:spec.promotionPolicy.conditions[].schedule": "tests/test_e2e_gates.py::test_security_scan_and_schedule_gate_the_merge",
    "Stage:spec.promotionPolicy.conditions[].status": "tests/core/test_planner_gates.py::test_conditions_block_the_merge_and_say_why",
    "Stage:spec.promotionPolicy.conditions[].timezone": "tests/core/test_planner_gates.py::test_unknown_timezone_keeps_the_window_closed",
    "Stage:spec.promotionPolicy.conditions[].type": "tests/core/test_planner_gates.py::test_conditions_block_the_merge_and_say_why",
    "Stage:spec.promotionPolicy.conditions[].window": "tests/core/test_planner_gates.py::test_schedule_window_gates_auto_merge",
    "Stage:spec.promotionPolicy.paused": "tests/test_e2e_flask_app.py::test_pause_and_resume",
    "Stage:spec.promotionPolicy.schedule": "tests/test_e2e_gates.py::test_security_scan_and_schedule_gate_the_merge",
    "Stage:spec.promotionPolicy.scheduleWindow": "tests/core/test_planner_gates.py::test_schedule_window_gates_auto_merge",
    "Stage:spec.promotionPolicy.timezone": "tests/core/test_planner_gates.py::test_unknown_timezone_keeps_the_window_closed",
    "Stage:spec.promotionTemplate.spec.vars[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.promotionTemplate.spec.vars[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.requestedFreight[].origin.kind": "tests/core/test_steps.py::test_kargo_colour_names_are_accepted",
    "Stage:spec.requestedFreight[].origin.name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.requestedFreight[].sources.autoPromotionOptions.selectionPolicy": "tests/test_e2e_kargo_fields.py::test_match_upstream_takes_what_the_upstream_stage_runs_not_the_newest",
    "Stage:spec.requestedFreight[].sources.availabilityStrategy": "tests/test_e2e_kargo_fields.py::test_availability_strategy_takes_freight_from_any_or_only_every_upstream_stage",
    "Stage:spec.requestedFreight[].sources.direct": "tests/test_e2e_gates.py::test_direct_push_promotes_without_a_pull_request",
    "Stage:spec.requestedFreight[].sources.requiredSoakTime": "tests/test_e2e_kargo_fields.py::test_required_soak_time_keeps_freight_upstream_until_it_has_run_there_long_enough",
    "Stage:spec.requestedFreight[].sources.stages": "tests/test_e2e_kargo_steps.py::test_dev_and_staging_push_to_main_and_prod_lands_when_a_person_merges",
    "Stage:spec.subscriptions.upstreamStages[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.subscriptions.warehouse": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Stage:spec.verification.analysisTemplates[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.verification.args[].name": "tests/test_e2e_verification_args.py::test_args_are_the_verification_workflows_inputs",
    "Stage:spec.verification.args[].value": "tests/test_e2e_verification_args.py::test_args_are_the_verification_workflows_inputs",
    "Stage:spec.verification.parallel": "tests/core/test_planner_gates.py::test_parallel_steps_start_together",
    "Stage:spec.verification.steps[].analysisTemplate.name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Stage:spec.verification.steps[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].as": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.charts[].name": "tests/test_e2e_helm_chart.py::test_chart_freight_is_written_into_chart_yaml_dependencies",
    "Steps:spec.steps[].config.charts[].repository": "tests/test_e2e_helm_chart.py::test_chart_freight_is_written_into_chart_yaml_dependencies",
    "Steps:spec.steps[].config.charts[].version": "tests/test_e2e_helm_chart.py::test_chart_freight_is_written_into_chart_yaml_dependencies",
    "Steps:spec.steps[].config.checkout[].branch": "tests/core/test_steps.py::test_expressions_read_charts_commits_vars_and_ctx",
    "Steps:spec.steps[].config.checkout[].commit": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].config.checkout[].create": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].config.checkout[].path": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.checkout[].tag": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].config.generateTargetBranch": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.images[].digest": "tests/test_discovery.py::test_each_strategy_selects_its_tag",
    "Steps:spec.steps[].config.images[].image": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Steps:spec.steps[].config.images[].key": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Steps:spec.steps[].config.images[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.images[].newName": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Steps:spec.steps[].config.images[].tag": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Steps:spec.steps[].config.images[].useDigest": "tests/core/test_steps.py::test_kustomize_set_image_honours_new_name_digest_and_every_image",
    "Steps:spec.steps[].config.images[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.labels": "tests/test_e2e_kargo_steps.py::test_git_open_pr_title_and_labels_reach_the_promotion_pr",
    "Steps:spec.steps[].config.message": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].config.messageFromSteps": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.path": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.prNumber": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].config.prNumberFromStep": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.repoURL": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.sourceBranch": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].config.sourceBranchFromStep": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.targetBranch": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].config.title": "tests/test_e2e_kargo_steps.py::test_git_open_pr_title_and_labels_reach_the_promotion_pr",
    "Steps:spec.steps[].config.updates[].key": "tests/core/test_steps.py::test_a_step_whose_if_is_false_writes_nothing",
    "Steps:spec.steps[].config.updates[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].continueOnError": "tests/core/test_steps.py::test_an_if_that_needs_the_freight_is_decided_when_the_promotion_runs",
    "Steps:spec.steps[].if": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].retry.errorThreshold": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].retry.timeout": "tests/core/test_steps.py::test_validate_refuses_at_the_line_and_says_what_to_write",
    "Steps:spec.steps[].task.kind": "tests/core/test_steps.py::test_kargo_colour_names_are_accepted",
    "Steps:spec.steps[].task.name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].uses": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].vars[].name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Steps:spec.steps[].vars[].value": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Warehouse:spec.freightCreationPolicy": "tests/test_e2e_manual_freight.py::test_a_scheduled_run_finds_but_makes_no_freight_until_refresh",
    "Warehouse:spec.retention.maxAge": "tests/core/test_planner.py::test_retention_by_age_keeps_the_newest",
    "Warehouse:spec.retention.maxArtifacts": "tests/core/test_planner.py::test_retention_keeps_max_artifacts_but_never_what_is_used",
    "Warehouse:spec.subscriptions[].chart.constraint": "tests/test_e2e_deadlines.py::test_202_subscriptions_on_one_host_all_get_freight_within_two_runs",
    "Warehouse:spec.subscriptions[].chart.discoveryLimit": "tests/test_discovery.py::test_newest_build_reads_few_build_dates",
    "Warehouse:spec.subscriptions[].chart.name": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Warehouse:spec.subscriptions[].chart.repoURL": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Warehouse:spec.subscriptions[].chart.semverConstraint": "tests/test_discovery.py::test_each_strategy_selects_its_tag",
    "Warehouse:spec.subscriptions[].git.allowTags": "tests/core/test_versions.py::test_select_tags_reports_a_bad_regex",
    "Warehouse:spec.subscriptions[].git.branch": "tests/core/test_steps.py::test_expressions_read_charts_commits_vars_and_ctx",
    "Warehouse:spec.subscriptions[].git.commitSelectionStrategy": "tests/test_discovery.py::test_each_strategy_selects_its_tag",
    "Warehouse:spec.subscriptions[].git.discoveryLimit": "tests/test_discovery.py::test_newest_build_reads_few_build_dates",
    "Warehouse:spec.subscriptions[].git.excludePaths": "tests/adapters/test_gitsource.py::test_path_filters_keep_commits_that_touch_wanted_files",
    "Warehouse:spec.subscriptions[].git.ignoreTags": "tests/test_discovery.py::test_digest_strategy_honours_ignore_tags_for_the_followed_tag",
    "Warehouse:spec.subscriptions[].git.includePaths": "tests/adapters/test_gitsource.py::test_path_filters_keep_commits_that_touch_wanted_files",
    "Warehouse:spec.subscriptions[].git.repoURL": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Warehouse:spec.subscriptions[].git.semverConstraint": "tests/test_discovery.py::test_each_strategy_selects_its_tag",
    "Warehouse:spec.subscriptions[].image.allowTags": "tests/core/test_versions.py::test_select_tags_reports_a_bad_regex",
    "Warehouse:spec.subscriptions[].image.allowTagsRegexes": "tests/core/test_versions.py::test_select_tags_reports_a_bad_regex",
    "Warehouse:spec.subscriptions[].image.cacheTTL": "tests/test_discovery.py::test_inside_cache_ttl_no_request_is_made_and_refresh_bypasses_it",
    "Warehouse:spec.subscriptions[].image.constraint": "tests/test_e2e_deadlines.py::test_202_subscriptions_on_one_host_all_get_freight_within_two_runs",
    "Warehouse:spec.subscriptions[].image.credentialsEnv": "tests/commands/test_config_effects.py::test_credentials_env_names_the_variables_read",
    "Warehouse:spec.subscriptions[].image.discoveryLimit": "tests/test_discovery.py::test_newest_build_reads_few_build_dates",
    "Warehouse:spec.subscriptions[].image.ignoreTags": "tests/test_discovery.py::test_digest_strategy_honours_ignore_tags_for_the_followed_tag",
    "Warehouse:spec.subscriptions[].image.ignoreTagsRegexes": "tests/core/test_versions.py::test_select_tags_picks_what_selection_by_semver_compare_picks",
    "Warehouse:spec.subscriptions[].image.imageSelectionStrategy": "tests/test_e2e_deadlines.py::test_202_subscriptions_on_one_host_all_get_freight_within_two_runs",
    "Warehouse:spec.subscriptions[].image.insecureSkipTLSVerify": "tests/adapters/test_registry.py::test_insecure_skip_tls_verify_applies_to_its_host_only",
    "Warehouse:spec.subscriptions[].image.platform": "tests/adapters/test_registry.py::test_index_digest_for_a_platform",
    "Warehouse:spec.subscriptions[].image.repoURL": "tests/core/test_steps.py::test_a_task_with_stage_vars_settles_each_stage_its_own_way",
    "Warehouse:spec.subscriptions[].image.semverConstraint": "tests/test_discovery.py::test_each_strategy_selects_its_tag",
    "Warehouse:spec.subscriptions[].image.strictSemvers": "tests/core/test_versions.py::test_select_tags_picks_what_selection_by_semver_compare_picks",
    "Warehouse:spec.subscriptions[].image.webhook.enabled": "tests/core/test_events.py::test_an_image_webhook_counts_only_for_the_events_it_lists",
    "Warehouse:spec.subscriptions[].image.webhook.github.events": "tests/core/test_events.py::test_an_image_webhook_counts_only_for_the_events_it_lists",
    "Warehouse:spec.subscriptions[].image.webhook.github.repository": "tests/core/test_steps.py::test_expressions_read_charts_commits_vars_and_ctx",
}

_STRUCTURE = {"apiVersion", "kind", "metadata", "spec"}


def _walk(node: Any, path: str, out: dict[str, dict[str, Any]]) -> None:
    if not isinstance(node, dict):
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            _walk(sub, path, out)
    if "then" in node:
        _walk(node["then"], path, out)
    for name, sub in node.get("properties", {}).items():
        child = f"{path}.{name}" if path else name
        out.setdefault(child, sub)
        _walk(sub, child, out)
    if isinstance(node.get("items"), dict):
        _walk(node["items"], path + "[]", out)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        _walk(extra, path + ".*", out)


def _is_container(schema: dict[str, Any]) -> bool:
    items = schema.get("items")
    return bool(schema.get("properties")) or (isinstance(items, dict) and "properties" in items)


def accepted_keys() -> dict[str, bool]:
    """Every leaf key of every document kind -> whether the schema marks it no-effect."""
    keys: dict[str, bool] = {}
    for kind, document in DOCUMENTS.items():
        found: dict[str, dict[str, Any]] = {}
        _walk(document.schema(), "", found)
        for path, schema in found.items():
            if path in _STRUCTURE or _is_container(schema):
                continue
            name = "PromotionTask" if kind == "ClusterPromotionTask" else kind
            if name == "Stage" and path.startswith("spec.promotionTemplate.spec.steps"):
                name, path = "Steps", path.replace("spec.promotionTemplate.", "", 1)
            elif name == "PromotionTask" and path.startswith("spec.steps"):
                name = "Steps"
            elif path.startswith("metadata."):
                name = "Any"
            key = f"{name}:{path}"
            keys[key] = keys.get(key, False) or "x-shunter-no-effect" in schema
    return keys


def _tests() -> set[str]:
    found = set()
    for file in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(file.read_text())
        rel = file.relative_to(ROOT).as_posix()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.add(f"{rel}::{node.name}")
    return found


def test_every_accepted_key_shows_its_effect_or_warns_it_has_none() -> None:
    keys = accepted_keys()
    silent = sorted(k for k, no_effect in keys.items() if not no_effect and k not in EFFECTS)
    assert silent == [], "keys with neither a test nor a no-effect warning"
    stale = sorted(k for k in EFFECTS if k not in keys)
    assert stale == [], "entries for keys validate no longer accepts"
    both = sorted(k for k in EFFECTS if keys.get(k))
    assert both == [], "a key is either shown by a test or warned about, not both"


def test_every_named_test_exists() -> None:
    tests = _tests()
    missing = sorted({t for t in EFFECTS.values() if t not in tests})
    assert missing == []


NO_EFFECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app, labels: {tier: web}}
spec:
  interval: 5m
  subscriptions:
    - image: {repoURL: ghcr.io/alkon/app}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev}
spec:
  subscriptions: {warehouse: app}
  promotionPolicy:
    approvals: {minimumApprovals: 1}
"""


def test_validate_warns_for_each_key_written_that_has_no_effect() -> None:
    config = parse_config([("kargo/all.yaml", NO_EFFECT)])
    notes = [(n.kind, n.path, n.location.line) for n in config.notes]
    assert notes == [
        (NoteKind.NO_EFFECT, "metadata.labels", 3),
        (NoteKind.NO_EFFECT, "spec.interval", 5),
        (NoteKind.APPROVALS_OFF, "spec.promotionPolicy.approvals", 15),
    ]
    no_effect = {k for k, v in accepted_keys().items() if v}
    assert {"Any:metadata.labels", "Warehouse:spec.interval"} <= no_effect


@pytest.mark.parametrize("required", ["true", "false"])
def test_approvals_without_required_warn_and_with_it_do_not(required: str) -> None:
    text = NO_EFFECT.replace("{minimumApprovals: 1}", f"{{required: {required}}}")
    config = parse_config([("kargo/all.yaml", text)])
    kinds = [n.kind for n in config.notes]
    assert (NoteKind.APPROVALS_OFF in kinds) is (required == "false")


ARGS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app}
spec:
  subscriptions:
    - image: {repoURL: ghcr.io/alkon/app}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: ping}
spec:
  http: {url: "https://dev.example.com/healthz"}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke}
spec:
  workflow: {file: smoke.yml}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev}
spec:
  subscriptions: {warehouse: app}
  verification:
    analysisTemplates: [{name: ping}]
    args: [{name: env, value: dev}]
"""


@pytest.mark.parametrize(("templates", "warned"), [("[{name: ping}]", True),
                                                   ("[{name: ping}, {name: smoke}]", False)])  # fmt: skip
def test_args_warn_when_every_verification_step_is_an_http_check(
    templates: str, warned: bool
) -> None:
    text = ARGS.replace("[{name: ping}]", templates)
    config = parse_config([("kargo/all.yaml", text)])
    notes = [(n.kind, n.path, n.location.line) for n in config.notes]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "args:" in t)
    assert notes == ([(NoteKind.NO_EFFECT, "spec.verification.args", line)] if warned else [])
