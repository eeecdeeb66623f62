-- Piri v0.2.4's PDP state (schema scheduler, gorm's AutoMigrate of its models)
-- and aggregator job queues (schema aggregator, lib/jobqueue), as its own code
-- made them in PostgreSQL; written by scripts/piri-aggregator (pg_dump --schema-only).
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: aggregator; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA aggregator;


--
-- Name: scheduler; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA scheduler;


--
-- Name: jobqueue_update_timestamp(); Type: FUNCTION; Schema: aggregator; Owner: -
--

CREATE FUNCTION aggregator.jobqueue_update_timestamp() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.updated = NOW();
  RETURN NEW;
END;
$$;


--
-- Name: adjust_proofset_refcount_on_update(); Type: FUNCTION; Schema: scheduler; Owner: -
--

CREATE FUNCTION scheduler.adjust_proofset_refcount_on_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.pdp_piece_ref_id IS DISTINCT FROM NEW.pdp_piece_ref_id THEN
        IF OLD.pdp_piece_ref_id IS NOT NULL THEN
            UPDATE pdp_piecerefs
            SET proofset_refcount = proofset_refcount - 1
            WHERE id = OLD.pdp_piece_ref_id;
        END IF;
        IF NEW.pdp_piece_ref_id IS NOT NULL THEN
            UPDATE pdp_piecerefs
            SET proofset_refcount = proofset_refcount + 1
            WHERE id = NEW.pdp_piece_ref_id;
        END IF;
    END IF;
    RETURN NEW;
END;
$$;


--
-- Name: decrement_proofset_refcount(); Type: FUNCTION; Schema: scheduler; Owner: -
--

CREATE FUNCTION scheduler.decrement_proofset_refcount() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE pdp_piecerefs
    SET proofset_refcount = proofset_refcount - 1
    WHERE id = OLD.pdp_piece_ref_id;
    RETURN OLD;
END;
$$;


--
-- Name: increment_proofset_refcount(); Type: FUNCTION; Schema: scheduler; Owner: -
--

CREATE FUNCTION scheduler.increment_proofset_refcount() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE pdp_piecerefs
    SET proofset_refcount = proofset_refcount + 1
    WHERE id = NEW.pdp_piece_ref_id;
    RETURN NEW;
END;
$$;


--
-- Name: update_pdp_proofset_creates(); Type: FUNCTION; Schema: scheduler; Owner: -
--

CREATE FUNCTION scheduler.update_pdp_proofset_creates() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.tx_status = 'pending' AND (NEW.tx_status = 'confirmed' OR NEW.tx_status = 'failed') THEN
        UPDATE pdp_proofset_creates
        SET ok = CASE
                     WHEN NEW.tx_status = 'failed' OR NEW.tx_success = FALSE THEN FALSE
                     WHEN NEW.tx_status = 'confirmed' AND NEW.tx_success = TRUE THEN TRUE
                     ELSE ok
            END
        WHERE create_message_hash = NEW.signed_tx_hash
          AND proofset_created = FALSE;
    END IF;
    RETURN NEW;
END;
$$;


--
-- Name: update_pdp_proofset_roots(); Type: FUNCTION; Schema: scheduler; Owner: -
--

CREATE FUNCTION scheduler.update_pdp_proofset_roots() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.tx_status = 'pending' AND (NEW.tx_status = 'confirmed' OR NEW.tx_status = 'failed') THEN
        UPDATE pdp_proofset_root_adds
        SET add_message_ok = CASE
                                 WHEN NEW.tx_status = 'failed' OR NEW.tx_success = FALSE THEN FALSE
                                 WHEN NEW.tx_status = 'confirmed' AND NEW.tx_success = TRUE THEN TRUE
                                 ELSE add_message_ok
            END
        WHERE add_message_hash = NEW.signed_tx_hash;
    END IF;
    RETURN NEW;
END;
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: job_dead; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.job_dead (
    id integer NOT NULL,
    ns_id integer NOT NULL,
    key bytea NOT NULL,
    body bytea NOT NULL,
    attempts integer NOT NULL,
    reason text NOT NULL,
    error text NOT NULL,
    moved_s bigint DEFAULT (EXTRACT(epoch FROM now()))::bigint NOT NULL
);


--
-- Name: job_dead_id_seq; Type: SEQUENCE; Schema: aggregator; Owner: -
--

CREATE SEQUENCE aggregator.job_dead_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: job_dead_id_seq; Type: SEQUENCE OWNED BY; Schema: aggregator; Owner: -
--

ALTER SEQUENCE aggregator.job_dead_id_seq OWNED BY aggregator.job_dead.id;


--
-- Name: job_done; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.job_done (
    ns_id integer NOT NULL,
    key bytea NOT NULL,
    status integer NOT NULL,
    done_s bigint DEFAULT (EXTRACT(epoch FROM now()))::bigint NOT NULL
);


--
-- Name: job_ns; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.job_ns (
    id integer NOT NULL,
    queue text NOT NULL,
    name text NOT NULL
);


--
-- Name: job_ns_id_seq; Type: SEQUENCE; Schema: aggregator; Owner: -
--

CREATE SEQUENCE aggregator.job_ns_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: job_ns_id_seq; Type: SEQUENCE OWNED BY; Schema: aggregator; Owner: -
--

ALTER SEQUENCE aggregator.job_ns_id_seq OWNED BY aggregator.job_ns.id;


--
-- Name: jobqueue; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.jobqueue (
    id text DEFAULT ('m_'::text || replace((gen_random_uuid())::text, '-'::text, ''::text)) NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    queue text NOT NULL,
    body bytea NOT NULL,
    timeout timestamp with time zone DEFAULT now() NOT NULL,
    received integer DEFAULT 0 NOT NULL
);


--
-- Name: jobqueue_dead; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.jobqueue_dead (
    id text NOT NULL,
    created timestamp with time zone NOT NULL,
    updated timestamp with time zone NOT NULL,
    queue text NOT NULL,
    body bytea NOT NULL,
    timeout timestamp with time zone NOT NULL,
    received integer NOT NULL,
    job_name text NOT NULL,
    failure_reason text NOT NULL,
    error_message text NOT NULL,
    moved_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: jobs; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.jobs (
    id integer NOT NULL,
    ns_id integer NOT NULL,
    key bytea NOT NULL,
    body bytea NOT NULL,
    created_s bigint DEFAULT (EXTRACT(epoch FROM now()))::bigint NOT NULL,
    avail_s bigint NOT NULL,
    attempts integer DEFAULT 0 NOT NULL
);


--
-- Name: jobs_id_seq; Type: SEQUENCE; Schema: aggregator; Owner: -
--

CREATE SEQUENCE aggregator.jobs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: jobs_id_seq; Type: SEQUENCE OWNED BY; Schema: aggregator; Owner: -
--

ALTER SEQUENCE aggregator.jobs_id_seq OWNED BY aggregator.jobs.id;


--
-- Name: queues; Type: TABLE; Schema: aggregator; Owner: -
--

CREATE TABLE aggregator.queues (
    queue text NOT NULL,
    dedupe_enabled integer DEFAULT 0 NOT NULL
);


--
-- Name: message_send_eth_locks; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.message_send_eth_locks (
    from_address text NOT NULL,
    task_id bigint NOT NULL,
    claimed_at timestamp with time zone NOT NULL
);


--
-- Name: message_sends_eth; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.message_sends_eth (
    from_address text NOT NULL,
    to_address text NOT NULL,
    send_reason text NOT NULL,
    send_task_id bigint NOT NULL,
    unsigned_tx bytea NOT NULL,
    unsigned_hash text NOT NULL,
    nonce bigint,
    signed_tx bytea,
    signed_hash text,
    send_time timestamp with time zone,
    send_success boolean,
    send_error text
);


--
-- Name: message_sends_eth_send_task_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.message_sends_eth_send_task_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: message_sends_eth_send_task_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.message_sends_eth_send_task_id_seq OWNED BY scheduler.message_sends_eth.send_task_id;


--
-- Name: message_waits_eth; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.message_waits_eth (
    waiter_machine_id bigint,
    signed_tx_hash text NOT NULL,
    confirmed_block_number bigint,
    confirmed_tx_hash text,
    confirmed_tx_data jsonb,
    tx_status text,
    tx_receipt jsonb,
    tx_success boolean
);


--
-- Name: parked_piece_refs; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.parked_piece_refs (
    ref_id bigint NOT NULL,
    piece_id bigint NOT NULL,
    data_url text,
    data_headers jsonb DEFAULT '{}'::jsonb NOT NULL,
    long_term boolean DEFAULT false NOT NULL
);


--
-- Name: parked_piece_refs_ref_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.parked_piece_refs_ref_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: parked_piece_refs_ref_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.parked_piece_refs_ref_id_seq OWNED BY scheduler.parked_piece_refs.ref_id;


--
-- Name: parked_pieces; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.parked_pieces (
    id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
    piece_cid text NOT NULL,
    piece_padded_size bigint NOT NULL,
    piece_raw_size bigint NOT NULL,
    complete boolean DEFAULT false NOT NULL,
    task_id bigint,
    cleanup_task_id bigint,
    long_term boolean DEFAULT false NOT NULL
);


--
-- Name: parked_pieces_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.parked_pieces_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: parked_pieces_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.parked_pieces_id_seq OWNED BY scheduler.parked_pieces.id;


--
-- Name: pdp_piece_mh_to_commp; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_piece_mh_to_commp (
    mhash bytea NOT NULL,
    size bigint NOT NULL,
    commp text NOT NULL
);


--
-- Name: pdp_piece_uploads; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_piece_uploads (
    id uuid NOT NULL,
    service text NOT NULL,
    check_hash_codec text NOT NULL,
    check_hash bytea NOT NULL,
    check_size bigint NOT NULL,
    piece_cid text,
    notify_url text NOT NULL,
    notify_task_id bigint,
    piece_ref bigint,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);


--
-- Name: pdp_piecerefs; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_piecerefs (
    id bigint NOT NULL,
    service text NOT NULL,
    piece_cid text NOT NULL,
    piece_ref bigint,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    proofset_refcount bigint DEFAULT 0 NOT NULL
);


--
-- Name: pdp_piecerefs_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.pdp_piecerefs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: pdp_piecerefs_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.pdp_piecerefs_id_seq OWNED BY scheduler.pdp_piecerefs.id;


--
-- Name: pdp_proof_sets; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_proof_sets (
    id bigint NOT NULL,
    prev_challenge_request_epoch bigint,
    challenge_request_task_id bigint,
    challenge_request_msg_hash text,
    proving_period bigint,
    challenge_window bigint,
    prove_at_epoch bigint,
    init_ready boolean DEFAULT false NOT NULL,
    create_message_hash text NOT NULL,
    service text NOT NULL
);


--
-- Name: pdp_proof_sets_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.pdp_proof_sets_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: pdp_proof_sets_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.pdp_proof_sets_id_seq OWNED BY scheduler.pdp_proof_sets.id;


--
-- Name: pdp_proofset_creates; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_proofset_creates (
    create_message_hash text NOT NULL,
    ok boolean,
    proofset_created boolean DEFAULT false NOT NULL,
    service text NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);


--
-- Name: pdp_proofset_root_adds; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_proofset_root_adds (
    proofset_id bigint NOT NULL,
    add_message_hash text,
    subroot_offset bigint NOT NULL,
    root text NOT NULL,
    add_message_ok boolean,
    add_message_index bigint,
    subroot text NOT NULL,
    subroot_size bigint,
    pdp_piece_ref_id bigint
);


--
-- Name: pdp_proofset_roots; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_proofset_roots (
    proofset_id bigint NOT NULL,
    root_id bigint NOT NULL,
    subroot_offset bigint NOT NULL,
    root text NOT NULL,
    add_message_hash text NOT NULL,
    add_message_index bigint,
    subroot text NOT NULL,
    subroot_offset_val bigint,
    subroot_size bigint,
    pdp_piece_ref_id bigint
);


--
-- Name: pdp_prove_tasks; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_prove_tasks (
    proofset_id bigint NOT NULL,
    task_id bigint NOT NULL
);


--
-- Name: pdp_provider_registrations; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.pdp_provider_registrations (
    register_message_hash text NOT NULL,
    ok boolean,
    provider_registered boolean DEFAULT false NOT NULL,
    provider_id bigint,
    service text NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);


--
-- Name: rail_settlement_waits; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.rail_settlement_waits (
    rail_id text NOT NULL,
    signed_tx_hash text NOT NULL,
    created_at timestamp with time zone
);


--
-- Name: task; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.task (
    id bigint NOT NULL,
    initiated_by bigint,
    update_time timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    posted_time timestamp with time zone NOT NULL,
    session_id text,
    added_by text NOT NULL,
    previous_task bigint,
    name character varying(16) NOT NULL,
    retries bigint NOT NULL
);


--
-- Name: COLUMN task.initiated_by; Type: COMMENT; Schema: scheduler; Owner: -
--

COMMENT ON COLUMN scheduler.task.initiated_by IS 'The task ID whose completion occasioned this task';


--
-- Name: COLUMN task.update_time; Type: COMMENT; Schema: scheduler; Owner: -
--

COMMENT ON COLUMN scheduler.task.update_time IS 'When it was last modified. not a heartbeat';


--
-- Name: COLUMN task.session_id; Type: COMMENT; Schema: scheduler; Owner: -
--

COMMENT ON COLUMN scheduler.task.session_id IS 'may be null if not yet taken';


--
-- Name: COLUMN task.name; Type: COMMENT; Schema: scheduler; Owner: -
--

COMMENT ON COLUMN scheduler.task.name IS 'The name of the task type';


--
-- Name: task_history; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.task_history (
    id bigint NOT NULL,
    task_id bigint NOT NULL,
    name character varying(16) NOT NULL,
    posted timestamp with time zone NOT NULL,
    work_start timestamp with time zone NOT NULL,
    work_end timestamp with time zone NOT NULL,
    result boolean NOT NULL,
    err text,
    completed_by_session_id character varying(300) NOT NULL
);


--
-- Name: COLUMN task_history.result; Type: COMMENT; Schema: scheduler; Owner: -
--

COMMENT ON COLUMN scheduler.task_history.result IS 'Use to determine if this was a successful run.';


--
-- Name: task_history_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.task_history_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: task_history_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.task_history_id_seq OWNED BY scheduler.task_history.id;


--
-- Name: task_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.task_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: task_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.task_id_seq OWNED BY scheduler.task.id;


--
-- Name: withdrawal_waits; Type: TABLE; Schema: scheduler; Owner: -
--

CREATE TABLE scheduler.withdrawal_waits (
    id bigint NOT NULL,
    signed_tx_hash text NOT NULL,
    created_at timestamp with time zone
);


--
-- Name: withdrawal_waits_id_seq; Type: SEQUENCE; Schema: scheduler; Owner: -
--

CREATE SEQUENCE scheduler.withdrawal_waits_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: withdrawal_waits_id_seq; Type: SEQUENCE OWNED BY; Schema: scheduler; Owner: -
--

ALTER SEQUENCE scheduler.withdrawal_waits_id_seq OWNED BY scheduler.withdrawal_waits.id;


--
-- Name: job_dead id; Type: DEFAULT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_dead ALTER COLUMN id SET DEFAULT nextval('aggregator.job_dead_id_seq'::regclass);


--
-- Name: job_ns id; Type: DEFAULT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_ns ALTER COLUMN id SET DEFAULT nextval('aggregator.job_ns_id_seq'::regclass);


--
-- Name: jobs id; Type: DEFAULT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.jobs ALTER COLUMN id SET DEFAULT nextval('aggregator.jobs_id_seq'::regclass);


--
-- Name: message_sends_eth send_task_id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.message_sends_eth ALTER COLUMN send_task_id SET DEFAULT nextval('scheduler.message_sends_eth_send_task_id_seq'::regclass);


--
-- Name: parked_piece_refs ref_id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_piece_refs ALTER COLUMN ref_id SET DEFAULT nextval('scheduler.parked_piece_refs_ref_id_seq'::regclass);


--
-- Name: parked_pieces id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_pieces ALTER COLUMN id SET DEFAULT nextval('scheduler.parked_pieces_id_seq'::regclass);


--
-- Name: pdp_piecerefs id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_piecerefs ALTER COLUMN id SET DEFAULT nextval('scheduler.pdp_piecerefs_id_seq'::regclass);


--
-- Name: pdp_proof_sets id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proof_sets ALTER COLUMN id SET DEFAULT nextval('scheduler.pdp_proof_sets_id_seq'::regclass);


--
-- Name: task id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.task ALTER COLUMN id SET DEFAULT nextval('scheduler.task_id_seq'::regclass);


--
-- Name: task_history id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.task_history ALTER COLUMN id SET DEFAULT nextval('scheduler.task_history_id_seq'::regclass);


--
-- Name: withdrawal_waits id; Type: DEFAULT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.withdrawal_waits ALTER COLUMN id SET DEFAULT nextval('scheduler.withdrawal_waits_id_seq'::regclass);


--
-- Name: job_dead job_dead_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_dead
    ADD CONSTRAINT job_dead_pkey PRIMARY KEY (id);


--
-- Name: job_done job_done_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_done
    ADD CONSTRAINT job_done_pkey PRIMARY KEY (ns_id, key);


--
-- Name: job_ns job_ns_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_ns
    ADD CONSTRAINT job_ns_pkey PRIMARY KEY (id);


--
-- Name: job_ns job_ns_queue_name_key; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_ns
    ADD CONSTRAINT job_ns_queue_name_key UNIQUE (queue, name);


--
-- Name: jobqueue_dead jobqueue_dead_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.jobqueue_dead
    ADD CONSTRAINT jobqueue_dead_pkey PRIMARY KEY (id);


--
-- Name: jobqueue jobqueue_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.jobqueue
    ADD CONSTRAINT jobqueue_pkey PRIMARY KEY (id);


--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);


--
-- Name: queues queues_pkey; Type: CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.queues
    ADD CONSTRAINT queues_pkey PRIMARY KEY (queue);


--
-- Name: message_send_eth_locks message_send_eth_locks_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.message_send_eth_locks
    ADD CONSTRAINT message_send_eth_locks_pkey PRIMARY KEY (from_address);


--
-- Name: message_sends_eth message_sends_eth_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.message_sends_eth
    ADD CONSTRAINT message_sends_eth_pkey PRIMARY KEY (send_task_id);


--
-- Name: message_waits_eth message_waits_eth_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.message_waits_eth
    ADD CONSTRAINT message_waits_eth_pkey PRIMARY KEY (signed_tx_hash);


--
-- Name: parked_piece_refs parked_piece_refs_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_piece_refs
    ADD CONSTRAINT parked_piece_refs_pkey PRIMARY KEY (ref_id);


--
-- Name: parked_pieces parked_pieces_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_pieces
    ADD CONSTRAINT parked_pieces_pkey PRIMARY KEY (id);


--
-- Name: pdp_piece_mh_to_commp pdp_piece_mh_to_commp_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_piece_mh_to_commp
    ADD CONSTRAINT pdp_piece_mh_to_commp_pkey PRIMARY KEY (mhash);


--
-- Name: pdp_piece_uploads pdp_piece_uploads_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_piece_uploads
    ADD CONSTRAINT pdp_piece_uploads_pkey PRIMARY KEY (id);


--
-- Name: pdp_piecerefs pdp_piecerefs_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_piecerefs
    ADD CONSTRAINT pdp_piecerefs_pkey PRIMARY KEY (id);


--
-- Name: pdp_proof_sets pdp_proof_sets_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proof_sets
    ADD CONSTRAINT pdp_proof_sets_pkey PRIMARY KEY (id);


--
-- Name: pdp_proofset_creates pdp_proofset_creates_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_creates
    ADD CONSTRAINT pdp_proofset_creates_pkey PRIMARY KEY (create_message_hash);


--
-- Name: pdp_proofset_root_adds pdp_proofset_root_adds_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_root_adds
    ADD CONSTRAINT pdp_proofset_root_adds_pkey PRIMARY KEY (proofset_id, subroot_offset, root);


--
-- Name: pdp_proofset_roots pdp_proofset_roots_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_roots
    ADD CONSTRAINT pdp_proofset_roots_pkey PRIMARY KEY (proofset_id, root_id, subroot_offset);


--
-- Name: pdp_prove_tasks pdp_prove_tasks_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_prove_tasks
    ADD CONSTRAINT pdp_prove_tasks_pkey PRIMARY KEY (proofset_id, task_id);


--
-- Name: pdp_provider_registrations pdp_provider_registrations_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_provider_registrations
    ADD CONSTRAINT pdp_provider_registrations_pkey PRIMARY KEY (register_message_hash);


--
-- Name: rail_settlement_waits rail_settlement_waits_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.rail_settlement_waits
    ADD CONSTRAINT rail_settlement_waits_pkey PRIMARY KEY (rail_id);


--
-- Name: task_history task_history_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.task_history
    ADD CONSTRAINT task_history_pkey PRIMARY KEY (id);


--
-- Name: task task_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.task
    ADD CONSTRAINT task_pkey PRIMARY KEY (id);


--
-- Name: withdrawal_waits withdrawal_waits_pkey; Type: CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.withdrawal_waits
    ADD CONSTRAINT withdrawal_waits_pkey PRIMARY KEY (id);


--
-- Name: jobqueue_dead_queue_moved_at_idx; Type: INDEX; Schema: aggregator; Owner: -
--

CREATE INDEX jobqueue_dead_queue_moved_at_idx ON aggregator.jobqueue_dead USING btree (queue, moved_at);


--
-- Name: jobqueue_queue_created_idx; Type: INDEX; Schema: aggregator; Owner: -
--

CREATE INDEX jobqueue_queue_created_idx ON aggregator.jobqueue USING btree (queue, created);


--
-- Name: jobs_claim_idx; Type: INDEX; Schema: aggregator; Owner: -
--

CREATE INDEX jobs_claim_idx ON aggregator.jobs USING btree (ns_id, avail_s, id);


--
-- Name: jobs_unique_live; Type: INDEX; Schema: aggregator; Owner: -
--

CREATE UNIQUE INDEX jobs_unique_live ON aggregator.jobs USING btree (ns_id, key);


--
-- Name: idx_piece_cid_padded_longterm_cleanup; Type: INDEX; Schema: scheduler; Owner: -
--

CREATE UNIQUE INDEX idx_piece_cid_padded_longterm_cleanup ON scheduler.parked_pieces USING btree (piece_cid, piece_padded_size, cleanup_task_id, long_term);


--
-- Name: idx_rail_settlement_waits_signed_tx_hash; Type: INDEX; Schema: scheduler; Owner: -
--

CREATE UNIQUE INDEX idx_rail_settlement_waits_signed_tx_hash ON scheduler.rail_settlement_waits USING btree (signed_tx_hash);


--
-- Name: idx_withdrawal_waits_signed_tx_hash; Type: INDEX; Schema: scheduler; Owner: -
--

CREATE UNIQUE INDEX idx_withdrawal_waits_signed_tx_hash ON scheduler.withdrawal_waits USING btree (signed_tx_hash);


--
-- Name: jobqueue jobqueue_updated_timestamp; Type: TRIGGER; Schema: aggregator; Owner: -
--

CREATE TRIGGER jobqueue_updated_timestamp BEFORE UPDATE ON aggregator.jobqueue FOR EACH ROW EXECUTE FUNCTION aggregator.jobqueue_update_timestamp();


--
-- Name: message_waits_eth pdp_proofset_add_message_status_change; Type: TRIGGER; Schema: scheduler; Owner: -
--

CREATE TRIGGER pdp_proofset_add_message_status_change AFTER UPDATE OF tx_status, tx_success ON scheduler.message_waits_eth FOR EACH ROW EXECUTE FUNCTION scheduler.update_pdp_proofset_roots();


--
-- Name: message_waits_eth pdp_proofset_create_message_status_change; Type: TRIGGER; Schema: scheduler; Owner: -
--

CREATE TRIGGER pdp_proofset_create_message_status_change AFTER UPDATE OF tx_status, tx_success ON scheduler.message_waits_eth FOR EACH ROW EXECUTE FUNCTION scheduler.update_pdp_proofset_creates();


--
-- Name: pdp_proofset_roots pdp_proofset_root_delete; Type: TRIGGER; Schema: scheduler; Owner: -
--

CREATE TRIGGER pdp_proofset_root_delete AFTER DELETE ON scheduler.pdp_proofset_roots FOR EACH ROW WHEN ((old.pdp_piece_ref_id IS NOT NULL)) EXECUTE FUNCTION scheduler.decrement_proofset_refcount();


--
-- Name: pdp_proofset_roots pdp_proofset_root_insert; Type: TRIGGER; Schema: scheduler; Owner: -
--

CREATE TRIGGER pdp_proofset_root_insert AFTER INSERT ON scheduler.pdp_proofset_roots FOR EACH ROW WHEN ((new.pdp_piece_ref_id IS NOT NULL)) EXECUTE FUNCTION scheduler.increment_proofset_refcount();


--
-- Name: pdp_proofset_roots pdp_proofset_root_update; Type: TRIGGER; Schema: scheduler; Owner: -
--

CREATE TRIGGER pdp_proofset_root_update AFTER UPDATE ON scheduler.pdp_proofset_roots FOR EACH ROW EXECUTE FUNCTION scheduler.adjust_proofset_refcount_on_update();


--
-- Name: job_dead job_dead_ns_id_fkey; Type: FK CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.job_dead
    ADD CONSTRAINT job_dead_ns_id_fkey FOREIGN KEY (ns_id) REFERENCES aggregator.job_ns(id);


--
-- Name: jobs jobs_ns_id_fkey; Type: FK CONSTRAINT; Schema: aggregator; Owner: -
--

ALTER TABLE ONLY aggregator.jobs
    ADD CONSTRAINT jobs_ns_id_fkey FOREIGN KEY (ns_id) REFERENCES aggregator.job_ns(id);


--
-- Name: parked_piece_refs fk_parked_piece_refs_parked_piece; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_piece_refs
    ADD CONSTRAINT fk_parked_piece_refs_parked_piece FOREIGN KEY (piece_id) REFERENCES scheduler.parked_pieces(id) ON DELETE CASCADE;


--
-- Name: parked_pieces fk_parked_pieces_cleanup_task; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_pieces
    ADD CONSTRAINT fk_parked_pieces_cleanup_task FOREIGN KEY (cleanup_task_id) REFERENCES scheduler.task(id) ON DELETE SET NULL;


--
-- Name: parked_pieces fk_parked_pieces_task; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.parked_pieces
    ADD CONSTRAINT fk_parked_pieces_task FOREIGN KEY (task_id) REFERENCES scheduler.task(id) ON DELETE SET NULL;


--
-- Name: pdp_piece_uploads fk_pdp_piece_uploads_parked_piece_ref; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_piece_uploads
    ADD CONSTRAINT fk_pdp_piece_uploads_parked_piece_ref FOREIGN KEY (piece_ref) REFERENCES scheduler.parked_piece_refs(ref_id) ON DELETE SET NULL;


--
-- Name: pdp_piecerefs fk_pdp_piecerefs_parked_piece_ref; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_piecerefs
    ADD CONSTRAINT fk_pdp_piecerefs_parked_piece_ref FOREIGN KEY (piece_ref) REFERENCES scheduler.parked_piece_refs(ref_id) ON DELETE CASCADE;


--
-- Name: pdp_proof_sets fk_pdp_proof_sets_challenge_request_task; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proof_sets
    ADD CONSTRAINT fk_pdp_proof_sets_challenge_request_task FOREIGN KEY (challenge_request_task_id) REFERENCES scheduler.task(id) ON DELETE SET NULL;


--
-- Name: pdp_proofset_creates fk_pdp_proofset_creates_message_wait; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_creates
    ADD CONSTRAINT fk_pdp_proofset_creates_message_wait FOREIGN KEY (create_message_hash) REFERENCES scheduler.message_waits_eth(signed_tx_hash) ON DELETE CASCADE;


--
-- Name: pdp_proofset_root_adds fk_pdp_proofset_root_adds_add_message_wait; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_root_adds
    ADD CONSTRAINT fk_pdp_proofset_root_adds_add_message_wait FOREIGN KEY (add_message_hash) REFERENCES scheduler.message_waits_eth(signed_tx_hash) ON DELETE CASCADE;


--
-- Name: pdp_proofset_root_adds fk_pdp_proofset_root_adds_pdp_piece_ref; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_root_adds
    ADD CONSTRAINT fk_pdp_proofset_root_adds_pdp_piece_ref FOREIGN KEY (pdp_piece_ref_id) REFERENCES scheduler.pdp_piecerefs(id) ON DELETE SET NULL;


--
-- Name: pdp_proofset_root_adds fk_pdp_proofset_root_adds_proof_set; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_root_adds
    ADD CONSTRAINT fk_pdp_proofset_root_adds_proof_set FOREIGN KEY (proofset_id) REFERENCES scheduler.pdp_proof_sets(id) ON DELETE CASCADE;


--
-- Name: pdp_proofset_roots fk_pdp_proofset_roots_add_message_wait; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_roots
    ADD CONSTRAINT fk_pdp_proofset_roots_add_message_wait FOREIGN KEY (add_message_hash) REFERENCES scheduler.message_waits_eth(signed_tx_hash) ON DELETE CASCADE;


--
-- Name: pdp_proofset_roots fk_pdp_proofset_roots_pdp_piece_ref; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_roots
    ADD CONSTRAINT fk_pdp_proofset_roots_pdp_piece_ref FOREIGN KEY (pdp_piece_ref_id) REFERENCES scheduler.pdp_piecerefs(id) ON DELETE SET NULL;


--
-- Name: pdp_proofset_roots fk_pdp_proofset_roots_proof_set; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_proofset_roots
    ADD CONSTRAINT fk_pdp_proofset_roots_proof_set FOREIGN KEY (proofset_id) REFERENCES scheduler.pdp_proof_sets(id) ON DELETE CASCADE;


--
-- Name: pdp_prove_tasks fk_pdp_prove_tasks_proof_set; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_prove_tasks
    ADD CONSTRAINT fk_pdp_prove_tasks_proof_set FOREIGN KEY (proofset_id) REFERENCES scheduler.pdp_proof_sets(id) ON DELETE CASCADE;


--
-- Name: pdp_prove_tasks fk_pdp_prove_tasks_prove_task; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_prove_tasks
    ADD CONSTRAINT fk_pdp_prove_tasks_prove_task FOREIGN KEY (task_id) REFERENCES scheduler.task(id) ON DELETE CASCADE;


--
-- Name: pdp_provider_registrations fk_pdp_provider_registrations_message_wait; Type: FK CONSTRAINT; Schema: scheduler; Owner: -
--

ALTER TABLE ONLY scheduler.pdp_provider_registrations
    ADD CONSTRAINT fk_pdp_provider_registrations_message_wait FOREIGN KEY (register_message_hash) REFERENCES scheduler.message_waits_eth(signed_tx_hash) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


